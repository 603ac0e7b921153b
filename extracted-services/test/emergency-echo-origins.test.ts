/**
 * A service's CDC consumer tells the service's own write-backs coming back (origin
 * `ficus-writeback`: skipped while it holds the record, shown to the feed's `echoes`) from the
 * legacy's changes by who holds the record. Since 7d073f1 a change's merge asked the emergency
 * override file as it is then (a stat), but that choice of echoes still read the watcher's last
 * state: a consumer paused when the file appeared (SIGSTOP, a VM stall) skipped, after resuming,
 * a write-back the legacy now holds as its own committed state, until the watcher ticked. Here the
 * watcher is loaded but never started (the pause, as long as we like), the rules say the service
 * holds the record; real Redis queues, a real service database, the real file reader.
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger, openRecordEmergency, partitionQueueName, type ChangeBatch, type ChangeEvent, type RecordEmergencyFile } from '@ficus/contracts';
import { cdcQueuePrefix, migrateChangeConsumer, type PartitionedConsumer } from '@ficus/contracts/queues';
import { fixedSystemOfRecord, ServiceMetrics, startChangeFeeds, WRITEBACK_ORIGIN, type SystemOfRecord, type SystemOfRecordSource } from '@ficus/service-kit';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';

const log = createLogger('emergency-echo-origins-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const HELD = 'rules: [patients-write]\nreason: patient-service loses writes since 02:10\nby: j.doe\n';
const TOPIC = `echo-fresh-${randomBytes(3).toString('hex')}`;

let db: TestDatabase;
let pool: pg.Pool;
let redis: Redis;
let queue: Queue<ChangeBatch>;
let dir: string;
let emergency: RecordEmergencyFile;
let consumers: PartitionedConsumer<ChangeBatch>[] = [];
/** what the feed was given: applied as the legacy's, or told as the service's own echoes, and under which regime */
const seen: { as: 'applied' | 'echo'; position: string; systemOfRecord: SystemOfRecord }[] = [];

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'emergency_echo_origins');
  await migrateChangeConsumer(db.url);
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  queue = new Queue<ChangeBatch>(partitionQueueName(cdcQueuePrefix(TOPIC), 0), { connection: redis });
  dir = mkdtempSync(path.join(tmpdir(), 'ficus-echo-origins-'));
  const file = path.join(dir, 'emergency-legacy.yaml');
  // the service's regime as followRules makes it (the rules say service; the file, while it
  // names patients-write, the legacy), with the file's watcher read once and then paused for good
  let held = false;
  emergency = openRecordEmergency({ file, log, component: 'patient-service', recordRules: ['patients-write'], install: (pinned) => (held = pinned.size > 0) });
  await emergency.load();
  const now = (): SystemOfRecord => (held ? 'legacy' : 'service');
  const systemOfRecord: SystemOfRecordSource = {
    ...fixedSystemOfRecord('service'),
    current: now,
    fresh: async () => (await emergency.fresh(), now()),
    refresh: async () => (await emergency.fresh(), now()),
    heldByEmergency: () => held,
  };
  consumers = await startChangeFeeds({
    connection: redis,
    partitions: 1,
    pool,
    systemOfRecord,
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
  await emergency?.stop();
  await queue?.obliterate({ force: true }).catch(() => undefined);
  await queue?.close();
  redis?.disconnect();
  await pool?.end();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const pos = (lsn: number) => `${lsn.toString(16).toUpperCase().padStart(16, '0')}/00000000`;
/** a write-back of patient-service's as the CDC reader reads it from the legacy database */
function writtenBack(mrn: string, lsn: number): ChangeEvent {
  return {
    schemaVersion: 1,
    topic: TOPIC,
    op: 'update',
    key: { mrn },
    before: null,
    after: { mrn, phone: '217-555-0101' },
    source: { system: 'postgres', name: 'legacy-pg', database: 'legacy_his', schema: 'public', table: 'patient_master', position: pos(lsn), txId: String(lsn), commitTime: null, origin: WRITEBACK_ORIGIN },
  };
}
async function consumed(change: ChangeEvent) {
  await queue.add('b', { schemaVersion: 1, events: [change] });
  await expect.poll(() => seen.find((s) => s.position === change.source.position), { timeout: 10_000, interval: 20 }).toBeDefined();
  return seen.find((s) => s.position === change.source.position);
}

describe('which changes are the service\'s own echoes: the emergency file as it is when the change is consumed', () => {
  it('a write-back consumed just after the file appears is the legacy\'s change (applied, regime legacy); after its removal an echo again', async () => {
    const file = path.join(dir, 'emergency-legacy.yaml');
    // the service holds the record: its write-back coming back is an echo
    expect(await consumed(writtenBack('100001', 10))).toEqual({ as: 'echo', position: pos(10), systemOfRecord: 'service' });
    writeFileSync(file, HELD);
    // before: { as: 'echo', systemOfRecord: 'service' } (the watcher never read the file)
    expect(await consumed(writtenBack('100001', 11))).toEqual({ as: 'applied', position: pos(11), systemOfRecord: 'legacy' });
    unlinkSync(file);
    expect(await consumed(writtenBack('100002', 12))).toEqual({ as: 'echo', position: pos(12), systemOfRecord: 'service' });
  });
});
