/**
 * The publication a PostgreSQL source streams through: created for the mapped tables, or set to
 * exactly them when the mapping has changed since it was created.
 */
import type pg from 'pg';
import type { Logger } from '@ficus/contracts';
import type { CapturedTable } from './preflight.js';
import { quoteIdent } from './replication-connection.js';

export async function ensurePublication(pool: pg.Pool, publication: string, tables: CapturedTable[], log: Logger): Promise<void> {
  const names = tables.map((t) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`);
  const { rows } = await pool.query<{ schemaname: string; tablename: string }>('SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1', [publication]);
  const exists = (await pool.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication])).rowCount! > 0;
  if (!exists) {
    await pool.query(`CREATE PUBLICATION ${quoteIdent(publication)} FOR TABLE ${names.join(', ')}`);
    log.info({ publication, tables: tables.length }, 'publication created');
    return;
  }
  const have = new Set(rows.map((r) => `${r.schemaname}.${r.tablename}`));
  const want = new Set(tables.map((t) => `${t.schema}.${t.name}`));
  if (have.size !== want.size || [...want].some((t) => !have.has(t))) {
    await pool.query(`ALTER PUBLICATION ${quoteIdent(publication)} SET TABLE ${names.join(', ')}`);
    log.info({ publication, tables: tables.length }, 'publication changed to the mapped tables');
  }
}
