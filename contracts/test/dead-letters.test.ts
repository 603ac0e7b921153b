/**
 * Dead letters of the partitioned queues, on a real Redis and PostgreSQL: the rows of a change
 * batch the service's database refuses become dead letters, one per row (the batch's other rows
 * applied); the desk lists them with a summary that holds no row values, replays them once the
 * cause is mended (the consumer applies what is new and skips
 * what a later change superseded meanwhile), refuses a replay past the tombstones' retention
 * unless forced, discards, and refuses queues it does not serve.
 */
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger, partitionQueueName, type AuditLog, type ChangeBatch, type ChangeEvent } from '@ficus/contracts';
import {
  cdcQueuePrefix,
  changeBatchSummary,
  DeadLetterDesk,
  DeadLetterNotFoundError,
  deadLetterRoutes,
  migrateChangeConsumer,
  ReplayUnsafeError,
  startChangeConsumer,
  UnknownQueueError,
  type PartitionedConsumer,
} from '@ficus/contracts/queues';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { until } from '../../test-support/until.js';

const log = createLogger('dead-letter-test', { level: 'silent' });
const fast = { attempts: 2, baseMs: 20, maxMs: 50 };
const RETENTION_DAYS = 30;

let redis: Redis;
let db: TestDatabase;
let pool: pg.Pool;
let consumer: PartitionedConsumer<ChangeBatch>;
let desk: DeadLetterDesk;
let queue: Queue<ChangeBatch>;
const appliedPositions: string[] = [];
const topic = `results-${randomBytes(3).toString('hex')}`;
const prefix = cdcQueuePrefix(topic);
const partition0 = partitionQueueName(prefix, 0);

const pos = (lsn: number) => `${lsn.toString(16).toUpperCase().padStart(16, '0')}/00000000`;
function change(op: ChangeEvent['op'], id: string, value: string, position: string): ChangeEvent {
  return {
    schemaVersion: 1,
    topic,
    op,
    key: { id },
    before: null,
    after: { id, value },
    source: { system: 'postgres', name: 'legacy-pg', database: 'legacy_his', schema: 'public', table: 'lab_result', position, txId: '7', commitTime: '2026-12-02T08:00:00.000+00:00', origin: null },
  };
}
const batch = (events: ChangeEvent[]): ChangeBatch => ({ schemaVersion: 1, events });
const rows = async () => (await pool.query<{ id: string; value: string }>('SELECT id, value FROM results ORDER BY id')).rows.map((r) => `${r.id}:${r.value}`);

beforeAll(async () => {
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  db = await createTestDatabase(inject('databaseUrl'), 'dead_letters');
  await migrateChangeConsumer(db.url);
  pool = new pg.Pool({ connectionString: db.url });
  // the service's schema refuses a value the legacy allowed: its batches cannot be applied
  await pool.query("CREATE TABLE results (id TEXT PRIMARY KEY, value TEXT NOT NULL CONSTRAINT no_bad CHECK (value NOT LIKE 'BAD-%'))");
  consumer = await startChangeConsumer({
    connection: redis,
    topic,
    partitions: 2,
    pool,
    retry: fast,
    log,
    tombstoneRetentionDays: RETENTION_DAYS,
    applied: (r) => appliedPositions.push(...r.applied.map((c) => c.source.position)),
    apply: async (changes, client) => {
      for (const c of changes) await client.query('INSERT INTO results (id, value) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET value = excluded.value', [c.key.id, c.after!.value]);
    },
  });
  desk = new DeadLetterDesk({ connection: redis, families: () => [{ prefix, partitions: 2, describe: changeBatchSummary }] });
  queue = new Queue<ChangeBatch>(partition0, { connection: redis });
});
afterAll(async () => {
  await consumer?.close();
  await desk?.close();
  await queue?.close();
  redis?.disconnect();
  await pool?.end();
  await db?.drop();
});

describe('dead letters', () => {
  it('lists a refused row without its values, replays it once mended: new changes applied, superseded ones skipped', async () => {
    // two rows the service refuses in one batch, beside one it takes: a letter per refused row, the other applied at once
    await queue.add('refused', batch([change('create', 'KEY-R1', 'BAD-VALUE', pos(10)), change('create', 'KEY-R2', 'BAD-FIRST-VALUE', pos(11)), change('create', 'KEY-R3', 'GOOD-VALUE', pos(12))]));
    await queue.add('later', batch([change('update', 'KEY-R2', 'newer', pos(20))]));
    await until(async () => (await rows()).includes('KEY-R2:newer'), 'the later batch applied');
    expect(await rows()).toEqual(['KEY-R2:newer', 'KEY-R3:GOOD-VALUE']);
    const listing = await desk.list({ limit: 10 });
    expect(listing.counts).toEqual([{ prefix, count: 2 }]);
    const letters = listing.deadLetters.sort((a, b) => String(a.summary.firstPosition).localeCompare(String(b.summary.firstPosition)));
    expect(letters[0]).toMatchObject({
      queue: partition0,
      attempts: 1,
      error: expect.stringMatching(new RegExp(`^the service's database refused the create of legacy-pg:lab_result at position ${pos(10).replace('/', '\\/')}, key \\(id\\): .*"no_bad" \\(23514\\)`)),
      summary: { events: 1, ops: { create: 1 }, keys: 1, keyColumns: ['id'], tables: ['legacy-pg:lab_result'], firstPosition: pos(10), lastPosition: pos(10), firstCommitAt: '2026-12-02T08:00:00.000+00:00' },
    });
    expect(letters[1]!.summary).toMatchObject({ events: 1, firstPosition: pos(11) });
    // identifiers only: neither the values nor the keys of the rows
    expect(JSON.stringify(letters.map((l) => [l.summary, l.error]))).not.toMatch(/BAD-VALUE|BAD-FIRST|KEY-R/);
    const safeFor = Date.parse(letters[0]!.replaySafeUntil!) - Date.parse(letters[0]!.failedAt);
    expect(safeFor).toBe(RETENTION_DAYS * 86_400_000 - 3_600_000);

    await pool.query('ALTER TABLE results DROP CONSTRAINT no_bad');
    for (const letter of letters) {
      const { replayedAs } = await desk.replay(partition0, letter.id);
      expect(replayedAs).toMatch(/-replayed-\d+$/);
    }
    // a batch behind them in the partition: when it is applied, so were the replayed letters
    await queue.add('behind', batch([change('create', 'KEY-S', 'SENTINEL', pos(21))]));
    await until(async () => (await rows()).includes('KEY-S:SENTINEL'), 'the replayed letters handled');
    await pool.query("DELETE FROM results WHERE id = 'KEY-S'");
    // R2's change at position 11 is older than the one applied meanwhile (20): skipped
    expect(await rows()).toEqual(['KEY-R1:BAD-VALUE', 'KEY-R2:newer', 'KEY-R3:GOOD-VALUE']);
    expect(appliedPositions).not.toContain(pos(11));
    expect((await desk.list({ limit: 10 })).counts).toEqual([{ prefix, count: 0 }]);
    await expect(desk.replay(partition0, letters[0]!.id)).rejects.toBeInstanceOf(DeadLetterNotFoundError);
  });

  it('refuses a replay past the safe time unless forced, discards, and serves only its own queues', async () => {
    await pool.query("ALTER TABLE results ADD CONSTRAINT no_worse CHECK (value <> 'WORSE')");
    await queue.add('refused-again', batch([change('update', 'KEY-R1', 'WORSE', pos(30))]));
    await until(async () => (await desk.list({ limit: 10 })).deadLetters.length === 1, 'a dead letter');
    const [letter] = (await desk.list({ limit: 10 })).deadLetters;
    const afterRetention = new Date(Date.parse(letter!.replaySafeUntil!) + 1_000);
    await expect(desk.replay(partition0, letter!.id, { now: afterRetention })).rejects.toBeInstanceOf(ReplayUnsafeError);
    await expect(desk.replay(partition0, letter!.id, { now: afterRetention })).rejects.toThrow(/a row deleted since may come back/);
    // still there after the refusal; discarded, it is gone and nothing was applied
    const discarded = await desk.discard(partition0, letter!.id);
    expect(discarded.summary).toMatchObject({ events: 1, ops: { update: 1 } });
    expect((await desk.list({ limit: 10 })).deadLetters).toEqual([]);
    expect(await rows()).toEqual(['KEY-R1:BAD-VALUE', 'KEY-R2:newer', 'KEY-R3:GOOD-VALUE']);

    await expect(desk.list({ prefix: 'cdc.elsewhere', limit: 10 })).resolves.toEqual({ counts: [], deadLetters: [] });
    await expect(desk.replay(partitionQueueName(prefix, 2), 'dead-1')).rejects.toBeInstanceOf(UnknownQueueError);
    await expect(desk.discard('hl7.patient-service.p0', 'dead-1')).rejects.toThrow(/not a partition queue of cdc\.results-\w+\.p0…p1/);
  });

  it('replays a whole family, each partition in failure order, leaving those past their safe time unless forced', async () => {
    const partition1 = partitionQueueName(prefix, 1);
    const queue1 = new Queue<ChangeBatch>(partition1, { connection: redis });
    try {
      await pool.query("ALTER TABLE results ADD CONSTRAINT no_held CHECK (value NOT LIKE 'HELD%')");
      // one row's changes in order on partition 0, another row's on partition 1: all refused
      await queue.add('a1', batch([change('update', 'KEY-A', 'HELD-1', pos(50))]));
      await queue.add('a2', batch([change('update', 'KEY-A', 'HELD-2', pos(51))]));
      await queue1.add('b1', batch([change('create', 'KEY-B', 'HELD-3', pos(52))]));
      await until(async () => (await desk.list({ limit: 10 })).counts[0]!.count === 3, 'three dead letters');
      await pool.query('ALTER TABLE results DROP CONSTRAINT no_held');

      const later = new Date(Date.now() + (RETENTION_DAYS + 1) * 86_400_000);
      expect(await desk.replayAll(prefix, { max: 10, now: later })).toEqual({ replayed: 0, leftUnsafe: 3, remaining: 0 });
      expect(await desk.replayAll(prefix, { max: 2 })).toEqual({ replayed: 2, leftUnsafe: 0, remaining: 1 });
      expect(await desk.replayAll(prefix, { max: 10 })).toEqual({ replayed: 1, leftUnsafe: 0, remaining: 0 });
      await until(async () => {
        const r = await rows();
        return r.includes('KEY-A:HELD-2') && r.includes('KEY-B:HELD-3');
      }, 'the replayed changes applied');
      // KEY-A's earlier change was replayed first: both applied, in order (the other order would skip the earlier one as older)
      expect(appliedPositions.filter((p) => p === pos(50) || p === pos(51))).toEqual([pos(50), pos(51)]);
      expect((await desk.list({ limit: 10 })).counts).toEqual([{ prefix, count: 0 }]);
      await expect(desk.replayAll('cdc.elsewhere', { max: 10 })).rejects.toBeInstanceOf(UnknownQueueError);
    } finally {
      await queue1.close();
    }
  });

  it('forces a replay past the safe time when told to', async () => {
    await queue.add('refused-third', batch([change('update', 'KEY-R2', 'WORSE', pos(40))]));
    await until(async () => (await desk.list({ limit: 10 })).deadLetters.length === 1, 'a dead letter');
    const [letter] = (await desk.list({ limit: 10 })).deadLetters;
    await pool.query('ALTER TABLE results DROP CONSTRAINT no_worse');
    await desk.replay(partition0, letter!.id, { now: new Date(Date.parse(letter!.replaySafeUntil!) + 1_000), force: true });
    await until(async () => (await rows()).includes('KEY-R2:WORSE'), 'the forced replay applied');
  });

  it("answers 503 with the reason when the queues' Redis does not answer", async () => {
    const app = Fastify();
    // the desk the deployables open: a connection of its own, one try per command
    const unreachable = DeadLetterDesk.open('redis://127.0.0.1:1', { families: () => [{ prefix, partitions: 2, describe: changeBatchSummary }], timeoutMs: 300 });
    // nothing is written to the audit log when nothing was done
    const audit = { append: () => Promise.reject(new Error('no audit entry expected')) } as unknown as AuditLog;
    deadLetterRoutes(app, { base: '/api/cdc', channel: 'cdc', desk: unreachable, audit });
    try {
      const list = await app.inject({ method: 'GET', url: '/api/cdc/queues/dead-letters' });
      expect([list.statusCode, list.json().type]).toEqual([503, 'https://ficus.dev/problems/queues-unavailable']);
      expect(list.json().detail).toMatch(/^Redis did not answer within 300 ms; try again once it answers/);
      const replay = await app.inject({ method: 'POST', url: '/api/cdc/queues/dead-letters/replay', payload: { queue: partition0, id: 'dead-1', reason: 'x' } });
      expect([replay.statusCode, replay.json().title]).toEqual([503, "The queues' Redis did not answer"]);
      const all = await app.inject({ method: 'POST', url: '/api/cdc/queues/dead-letters/replay-all', payload: { prefix, reason: 'x' } });
      expect(all.statusCode).toBe(503);
    } finally {
      await app.close();
      await unreachable.close().catch(() => undefined);
    }
  });
});
