/**
 * The first snapshot of a PostgreSQL source: the mapped tables read as of the slot's start,
 * in a REPEATABLE READ transaction of a connection of their own that takes the snapshot the
 * slot exported (valid while the replication connection that created the slot waits). Every
 * row is published as a `snapshot` event at the slot's start position, then each topic's
 * snapshot end (a marker on every partition: the services withdraw what it did not bring);
 * between fetches the reading waits while too many events wait for the queues.
 *
 * Values are read as the server's text output of each column's type, untouched by the driver:
 * that is what pgoutput sends, so a re-snapshot gives the streamed value. A `::text` cast
 * would not: it trims CHAR(n)'s padding, adds inet's /32 and spells booleans `true`.
 */
import pg from 'pg';
import type { Publisher } from '../publish/publisher.js';
import type { SourceHooks } from '../source.js';
import type { CapturedTable } from './preflight.js';
import { quoteIdent } from './replication-connection.js';
import { fromText, SESSION_OPTIONS } from './values.js';

export interface TableSnapshot {
  databaseUrl: string;
  /** the snapshot the slot exported when it was created */
  snapshotName: string;
  tables: CapturedTable[];
  /** the slot's start: the position of every snapshot event */
  position: string;
  fetchRows: number;
  /** the source's name and database, as the events name them */
  source: string;
  database: string;
  publisher: Publisher;
  hooks: SourceHooks;
}

/** Reads every table and hands its rows to the publisher; the number of rows read. */
export async function snapshotTables(s: TableSnapshot): Promise<number> {
  const reader = new pg.Client({ connectionString: s.databaseUrl, options: SESSION_OPTIONS } as pg.ClientConfig);
  reader.on('error', () => undefined);
  await reader.connect();
  let rows = 0;
  try {
    await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await reader.query(`SET TRANSACTION SNAPSHOT '${s.snapshotName.replace(/'/g, "''")}'`);
    for (const t of s.tables) rows += await snapshotTable(reader, t, s);
    await reader.query('COMMIT');
    // only once every table is read: a topic's end says the service has all its rows, and a
    // snapshot cut short by a crash is taken again (a new slot, a new position) before any end goes
    for (const topic of new Set(s.tables.map((t) => t.mapping.topic))) s.publisher.snapshotEnd(topic, s.position);
  } finally {
    await reader.end().catch(() => undefined);
  }
  return rows;
}

/** every type's text as the server wrote it (no Date, Buffer or array parsing) */
const AS_SENT = { getTypeParser: () => (text: string) => text } as unknown as pg.CustomTypesConfig;

async function snapshotTable(reader: pg.Client, t: CapturedTable, s: TableSnapshot): Promise<number> {
  const cols = t.plan.columns;
  const select = cols.map((c) => quoteIdent(c.column)).join(', ');
  await reader.query(`DECLARE ficus_snapshot NO SCROLL CURSOR FOR SELECT ${select} FROM ${quoteIdent(t.schema)}.${quoteIdent(t.name)}`);
  let n = 0;
  for (;;) {
    const res = await reader.query<(string | null)[]>({ text: `FETCH ${s.fetchRows} FROM ficus_snapshot`, rowMode: 'array', types: AS_SENT });
    for (const values of res.rows) {
      const row: Record<string, unknown> = {};
      for (let i = 0; i < cols.length; i++) row[cols[i]!.field] = fromText(cols[i]!.type as number, values[i] ?? null);
      const key: Record<string, unknown> = {};
      for (const [field] of t.plan.key) key[field] = row[field];
      const e = {
        schemaVersion: 1 as const,
        topic: t.mapping.topic,
        op: 'snapshot' as const,
        key,
        before: null,
        after: row,
        source: { system: 'postgres' as const, name: s.source, database: s.database, schema: t.schema, table: t.name, position: s.position, txId: null, commitTime: null, origin: null },
      };
      s.hooks.read(e);
      s.publisher.add(e);
    }
    n += res.rows.length;
    if (s.publisher.pressure) await s.publisher.belowLowWater();
    if (res.rows.length < s.fetchRows) break;
  }
  await reader.query('CLOSE ficus_snapshot');
  return n;
}
