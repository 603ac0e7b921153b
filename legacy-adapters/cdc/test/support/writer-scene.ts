/**
 * The legacy writer in the test's own process, on a scene's legacy database (migrated, seeded,
 * the shipped mapping with the scene's topics): for the write-back tests that take the legacy
 * database away, hold its rows' locks or send a child before its parent, and look at the
 * writer's state and log while they do.
 */
import { Queue } from 'bullmq';
import pg from 'pg';
import { pino } from 'pino';
import { keyText, partitionOf, partitionQueueName, withDatabase, type ChangeBatch, type ChangeEvent } from '@ficus/contracts';
import { outboxPosition, writebackQueuePrefix } from '@ficus/contracts/queues';
import { inject } from 'vitest';
import { loadMapping } from '../../src/mapping/mapping-file.js';
import { checkMapping } from '../../src/postgres/preflight.js';
import { SESSION_OPTIONS } from '../../src/postgres/values.js';
import { LegacyWriter, migrateWriteback, type LegacyWriterOptions, type WritebackOutcome } from '../../src/writeback/legacy-writer.js';
import type { Scene } from './cdc-scene.js';

export const PARTITIONS = 8;

export interface WriterScene {
  writer: LegacyWriter;
  pool: pg.Pool;
  lines: { level: number; msg: string; [k: string]: unknown }[];
  /** the lines as written: a key written twice shows here, where JSON.parse keeps the last */
  raw: string[];
  outcomes: WritebackOutcome[];
  /** an outbox event of the scene's service, at outbox id `id` */
  event(topic: string, op: ChangeEvent['op'], key: Record<string, unknown>, after: Record<string, unknown> | null, id: number, before?: Record<string, unknown> | null): ChangeEvent;
  /** publishes events as one job on the partition of the first one's key (or `partition`) */
  publish(events: ChangeEvent[], partition?: number): Promise<void>;
  /** lets the legacy database take connections, or not (cutting those it has) */
  allowConnections(allow: boolean): Promise<void>;
  close(): Promise<void>;
}

export async function startWriter(s: Scene, options: Partial<LegacyWriterOptions> = {}): Promise<WriterScene> {
  const lines: WriterScene['lines'] = [];
  const raw: string[] = [];
  // `service: 'cdc'` as the deployable's logger (createLogger) has it
  const log = pino(
    { level: 'info', base: { service: 'cdc' } },
    {
      write: (l: string) => {
        raw.push(l);
        lines.push(JSON.parse(l) as WriterScene['lines'][number]);
      },
    },
  );
  await migrateWriteback(s.legacy.url, log);
  const pool = new pg.Pool({ connectionString: s.legacy.url, max: 4, application_name: 'ficus-legacy-writer', options: SESSION_OPTIONS, connectionTimeoutMillis: 2_000 } as pg.PoolConfig);
  pool.on('error', () => undefined);
  const tables = await checkMapping(pool, await loadMapping(s.mappingFile));
  const outcomes: WritebackOutcome[] = [];
  const writer = new LegacyWriter({ connection: s.redis, pool, tables, services: [s.service], partitions: PARTITIONS, retry: { attempts: 2, baseMs: 20, maxMs: 50 }, log, outcome: (o) => outcomes.push(o), ...options });
  await writer.start();
  const admin = new pg.Client({ connectionString: withDatabase(inject('databaseUrl'), 'postgres') });
  await admin.connect();
  const queues = new Map<number, Queue<ChangeBatch>>();
  return {
    writer,
    pool,
    lines,
    raw,
    outcomes,
    event: (topic, op, key, after, id, before = null) => ({
      schemaVersion: 1,
      topic: s.topic(topic),
      op,
      key,
      before,
      after,
      source: { system: 'outbox', name: s.service, database: 'service', schema: null, table: 'ficus_outbox', position: outboxPosition(id), txId: null, commitTime: new Date().toISOString(), origin: null },
    }),
    async publish(events, partition) {
      const p = partition ?? partitionOf(keyText(events[0]!.key), PARTITIONS);
      let q = queues.get(p);
      if (!q) queues.set(p, (q = new Queue<ChangeBatch>(partitionQueueName(writebackQueuePrefix(s.service), p), { connection: s.redis })));
      await q.add('outbox', { schemaVersion: 1, events });
    },
    async allowConnections(allow) {
      await admin.query(`ALTER DATABASE ${s.legacy.name} ALLOW_CONNECTIONS ${allow}`);
      if (!allow) await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [s.legacy.name]);
    },
    async close() {
      await admin.query(`ALTER DATABASE ${s.legacy.name} ALLOW_CONNECTIONS true`).catch(() => undefined);
      await writer.close();
      await Promise.all([...queues.values()].map((q) => q.close()));
      await admin.end();
      await pool.end();
    },
  };
}
