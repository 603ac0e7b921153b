/**
 * A stand-in for a new service's database fed by CDC, for the CDC tests and benchmark: one
 * table per topic, the topic's fields as columns with the legacy columns' types (so source and
 * target can be compared by checksum), filled by `startChangeConsumer` with one batched upsert
 * and one batched delete per job, and a lag table (the change's commit time beside the time it
 * was applied).
 */
import type { Redis } from 'ioredis';
import pg from 'pg';
import type { ChangeEvent, Logger } from '@ficus/contracts';
import { migrateChangeConsumer, startChangeConsumer, type PartitionedConsumer } from '@ficus/contracts/queues';
import type { ChangeBatch } from '@ficus/contracts';

export interface MirroredTopic {
  topic: string;
  legacyTable: string;
  /** [field, legacy column] in the mapping's order */
  fields: [string, string][];
  key: string[];
}

const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
export const targetTable = (topic: string) => q(`t_${topic.replace(/[^a-z0-9]/g, '_')}`);

/** Creates the target tables (columns typed as the legacy ones) and the consumer's position table. */
export async function createTarget(legacy: pg.Pool, targetUrl: string, topics: MirroredTopic[]): Promise<pg.Pool> {
  await migrateChangeConsumer(targetUrl);
  const target = new pg.Pool({ connectionString: targetUrl, max: 12 });
  // a client that is ending when its database is dropped (FORCE) gets a late FATAL: not a test failure
  target.on('error', () => undefined);
  for (const t of topics) {
    const { rows } = await legacy.query<{ attname: string; type: string }>(
      `SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a
        WHERE a.attrelid = (SELECT oid FROM pg_class WHERE relname = lower($1) AND relkind = 'r' LIMIT 1) AND a.attnum > 0 AND NOT a.attisdropped`,
      [t.legacyTable],
    );
    const typeOf = new Map(rows.map((r) => [r.attname, r.type]));
    const cols = t.fields.map(([f, c]) => `${q(f)} ${typeOf.get(c.toLowerCase()) ?? 'text'}`);
    await target.query(`CREATE TABLE ${targetTable(t.topic)} (${cols.join(', ')}, PRIMARY KEY (${t.key.map(q).join(', ')}))`);
  }
  // one row per source transaction and job, with the number of its changes applied (lag per change: expand by n)
  await target.query('CREATE TABLE cdc_lag (commit_time TIMESTAMPTZ NOT NULL, n INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp())');
  return target;
}

/** The batched apply of one topic: upserts of the rows that are there now, deletes of those that are gone. */
export function applierOf(t: MirroredTopic, recordLag = false) {
  const table = targetTable(t.topic);
  const keyCols = t.key.map(q).join(', ');
  const others = t.fields.map(([f]) => f).filter((f) => !t.key.includes(f));
  const upsert = `INSERT INTO ${table} SELECT * FROM jsonb_populate_recordset(null::${table}, $1::jsonb)
                  ON CONFLICT (${keyCols}) DO ${others.length ? `UPDATE SET ${others.map((f) => `${q(f)} = excluded.${q(f)}`).join(', ')}` : 'NOTHING'}`;
  const del = `DELETE FROM ${table} x USING jsonb_populate_recordset(null::${table}, $1::jsonb) d WHERE ${t.key.map((k) => `x.${q(k)} = d.${q(k)}`).join(' AND ')}`;
  return async (changes: ChangeEvent[], client: pg.PoolClient) => {
    const live = changes.filter((c) => c.op !== 'delete').map((c) => c.after);
    const gone = changes.filter((c) => c.op === 'delete').map((c) => c.key);
    if (live.length) await client.query(upsert, [JSON.stringify(live)]);
    if (gone.length) await client.query(del, [JSON.stringify(gone)]);
    if (recordLag) {
      const times = changes.map((c) => c.source.commitTime).filter((x): x is string => x !== null);
      if (times.length) await client.query('INSERT INTO cdc_lag (commit_time, n) SELECT t, count(*) FROM unnest($1::timestamptz[]) AS t GROUP BY t', [times]);
    }
  };
}

export async function startTargetConsumers(o: {
  connection: Redis;
  pool: pg.Pool;
  topics: MirroredTopic[];
  partitions: number;
  log: Logger;
  recordLag?: boolean;
  ignoreOrigins?: string[];
  applied?: (r: { topic: string; applied: ChangeEvent[]; skipped: number }) => void;
}): Promise<PartitionedConsumer<ChangeBatch>[]> {
  return Promise.all(
    o.topics.map((t) =>
      startChangeConsumer({
        connection: o.connection,
        topic: t.topic,
        partitions: o.partitions,
        pool: o.pool,
        apply: applierOf(t, o.recordLag),
        ignoreOrigins: o.ignoreOrigins,
        retry: { attempts: 3, baseMs: 50, maxMs: 200 },
        log: o.log,
        applied: o.applied,
      }),
    ),
  );
}

/** Row count and an md5 over the rows in key order: the legacy table's mapped columns, or the target's. */
export async function checksum(pool: pg.Pool, table: string, columns: string[], key: string[]): Promise<{ rows: number; md5: string }> {
  const { rows } = await pool.query<{ n: string; md5: string | null }>(
    `SELECT count(*) AS n, md5(string_agg(ROW(${columns.map(q).join(', ')})::text, '|' ORDER BY ${key.map(q).join(', ')})) AS md5 FROM ${table}`,
  );
  return { rows: Number(rows[0]!.n), md5: rows[0]!.md5 ?? '' };
}

export async function compareTopic(legacy: pg.Pool, target: pg.Pool, t: MirroredTopic): Promise<{ source: { rows: number; md5: string }; target: { rows: number; md5: string } }> {
  const keyColumns = t.key.map((k) => t.fields.find(([f]) => f === k)![1].toLowerCase());
  return {
    source: await checksum(legacy, t.legacyTable.toLowerCase(), t.fields.map(([, c]) => c.toLowerCase()), keyColumns),
    target: await checksum(target, targetTable(t.topic), t.fields.map(([f]) => f), t.key),
  };
}
