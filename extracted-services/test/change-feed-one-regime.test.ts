/**
 * A CDC job of a service's feed acts under one regime: who holds the record is looked at once
 * per job and that one answer chooses the echoes (the service's own write-backs, skipped while it
 * holds the record) and is what `apply` and `echoes` are given. Read once for each (up to three
 * times a job), an emergency file appearing or going mid-job let a write-back through as the
 * legacy's change and then merged it as the service's, or the reverse. Here the regime source
 * answers differently at each look; real Redis queues, a real service database.
 */
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createLogger, partitionQueueName, type ChangeBatch, type ChangeEvent } from '@ficus/contracts';
import { cdcQueuePrefix, migrateChangeConsumer, type PartitionedConsumer } from '@ficus/contracts/queues';
import { fixedSystemOfRecord, ServiceMetrics, startChangeFeeds, WRITEBACK_ORIGIN, type SystemOfRecord } from '@ficus/service-kit';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';

const log = createLogger('change-feed-one-regime-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const TOPIC = `one-regime-${randomBytes(3).toString('hex')}`;

let db: TestDatabase;
let pool: pg.Pool;
let redis: Redis;
let queue: Queue<ChangeBatch>;
let consumers: PartitionedConsumer<ChangeBatch>[] = [];
/** the regime source's next answers, one per look (the last one repeated) */
let answers: SystemOfRecord[] = [];
let looks = 0;
const seen: { as: 'applied' | 'echo'; position: string; systemOfRecord: SystemOfRecord }[] = [];

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'change_feed_one_regime');
  await migrateChangeConsumer(db.url);
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  queue = new Queue<ChangeBatch>(partitionQueueName(cdcQueuePrefix(TOPIC), 0), { connection: redis });
  const fresh = async (): Promise<SystemOfRecord> => {
    looks++;
    return answers.length > 1 ? answers.shift()! : answers[0]!;
  };
  consumers = await startChangeFeeds({
    connection: redis,
    partitions: 1,
    pool,
    systemOfRecord: { ...fixedSystemOfRecord('service'), fresh, refresh: fresh },
    metrics: new ServiceMetrics('patient-service', 'service'),
    log,
    tombstoneRetentionDays: 0,
    retry: { attempts: 3, baseMs: 20, maxMs: 50 },
    feeds: [
      {
        topic: TOPIC,
        apply: async (changes, ctx) => {
          for (const c of changes) seen.push({ as: 'applied', position: c.source.position, systemOfRecord: ctx.systemOfRecord });
          return { conflicts: 0 };
        },
        echoes: async (changes, ctx) => {
          for (const c of changes) seen.push({ as: 'echo', position: c.source.position, systemOfRecord: ctx.systemOfRecord });
        },
      },
    ],
  });
});
afterAll(async () => {
  await Promise.all(consumers.map((c) => c.close()));
  await queue?.obliterate({ force: true }).catch(() => undefined);
  await queue?.close();
  redis?.disconnect();
  await pool?.end();
  await db?.drop();
});
beforeEach(() => {
  looks = 0;
});

const pos = (lsn: number) => `${lsn.toString(16).toUpperCase().padStart(16, '0')}/00000000`;
function change(mrn: string, lsn: number, origin: string | null): ChangeEvent {
  return {
    schemaVersion: 1,
    topic: TOPIC,
    op: 'update',
    key: { mrn },
    before: null,
    after: { mrn, phone: '217-555-0101' },
    source: { system: 'postgres', name: 'legacy-pg', database: 'legacy_his', schema: 'public', table: 'patient_master', position: pos(lsn), txId: String(lsn), commitTime: null, origin },
  };
}
async function consumed(events: ChangeEvent[]) {
  await queue.add('b', { schemaVersion: 1, events });
  await expect.poll(() => events.every((e) => seen.some((s) => s.position === e.source.position)), { timeout: 10_000, interval: 20 }).toBe(true);
  return events.map((e) => seen.find((s) => s.position === e.source.position));
}

describe('a service CDC job looks at who holds the record once', () => {
  it('the legacy at its first look: the write-back and the legacy change are both applied under the legacy, though the next looks would say service', async () => {
    answers = ['legacy', 'service'];
    // before: applied, each under 'service' (apply looked again)
    expect(await consumed([change('200001', 20, WRITEBACK_ORIGIN), change('200002', 21, null)])).toEqual([
      { as: 'applied', position: pos(20), systemOfRecord: 'legacy' },
      { as: 'applied', position: pos(21), systemOfRecord: 'legacy' },
    ]);
    expect(looks).toBe(1);
  });

  it('the service at its first look: the write-back is an echo and the legacy change applied, both under the service, though the next looks would say legacy', async () => {
    answers = ['service', 'legacy'];
    // before: both under 'legacy' (apply and echoes looked again)
    expect(await consumed([change('200003', 30, WRITEBACK_ORIGIN), change('200004', 31, null)])).toEqual([
      { as: 'echo', position: pos(30), systemOfRecord: 'service' },
      { as: 'applied', position: pos(31), systemOfRecord: 'service' },
    ]);
    expect(looks).toBe(1);
  });
});
