/**
 * A row keeps one identity when its key column's type changes (a DBA's `ALTER … TYPE bigint`:
 * int4 keys arrive as JSON numbers, int8 keys as strings), on a real Redis and PostgreSQL:
 *
 * - a change queued before the ALTER (number key, its old partition) that reaches the consumer
 *   after one committed later (string key, another partition) is skipped as older (the 2026-12
 *   probe: the stay's bed stayed OLD for good in the service while the legacy said NEW);
 * - an old dead letter (number key) replayed after a later change is skipped as older;
 * - the upgrade's migration (change-consumer/003) carries stored typed keys over to the
 *   canonical text, the later position winning where a row is there twice, and does it again
 *   harmlessly.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger, keyText, partitionOf, partitionQueueName, runMigrations, type ChangeBatch, type ChangeEvent } from '@ficus/contracts';
import { cdcQueuePrefix, changeBatchSummary, DeadLetterDesk, deadLetterQueueName, migrateChangeConsumer, startChangeConsumer, type DeadLetter, type PartitionedConsumer } from '@ficus/contracts/queues';
import { createTestDatabase, rerunUpMigration, type TestDatabase } from '../../test-support/databases.js';
import { until } from '../../test-support/until.js';

const log = createLogger('key-identity-test', { level: 'silent' });
const ROOT = path.resolve(import.meta.dirname, '../..');
const PARTITIONS = 8;
const pos = (lsn: number) => `${lsn.toString(16).toUpperCase().padStart(16, '0')}/00000001`;
/** the key text of before the fix: the JSON type of the value was part of it */
const typedKeyText = (key: Record<string, unknown>) => JSON.stringify(Object.keys(key).sort().map((k) => [k, key[k]]));

let redis: Redis;
const closers: (() => Promise<unknown>)[] = [];
beforeAll(() => {
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
});
afterAll(async () => {
  for (const c of closers.reverse()) await c();
  redis.disconnect();
});

describe('a key column altered from integer to bigint', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let consumer: PartitionedConsumer<ChangeBatch>;
  const topic = `admissions-${Math.random().toString(16).slice(2, 8)}`;
  const outcomes: { applied: number; skipped: number }[] = [];

  function change(admissionId: number | string, bed: string, position: string): ChangeEvent {
    return {
      schemaVersion: 1,
      topic,
      op: 'update',
      key: { admissionId },
      before: null,
      after: { admissionId, bed },
      source: { system: 'postgres', name: 'legacy-pg', database: 'legacy_his', schema: 'public', table: 'admission', position, txId: '1', commitTime: null, origin: null },
    };
  }
  const bed = async (id: number) => (await pool.query<{ bed: string }>('SELECT bed FROM stays WHERE admission_id = $1', [id])).rows[0]?.bed;
  const queueOf = <T = ChangeBatch>(name: string) => {
    const q = new Queue<T>(name, { connection: redis });
    closers.push(() => q.close());
    return q;
  };

  beforeAll(async () => {
    db = await createTestDatabase(inject('databaseUrl'), 'key_identity');
    await migrateChangeConsumer(db.url);
    pool = new pg.Pool({ connectionString: db.url });
    await pool.query('CREATE TABLE stays (admission_id BIGINT PRIMARY KEY, bed TEXT)');
    consumer = await startChangeConsumer({
      connection: redis,
      topic,
      partitions: PARTITIONS,
      pool,
      log,
      retry: { attempts: 2, baseMs: 20, maxMs: 50 },
      applied: (r) => outcomes.push({ applied: r.applied.length, skipped: r.skipped }),
      apply: async (changes, client) => {
        for (const c of changes) await client.query('INSERT INTO stays VALUES ($1, $2) ON CONFLICT (admission_id) DO UPDATE SET bed = excluded.bed', [c.key.admissionId, c.after!.bed]);
      },
    });
    closers.push(async () => {
      await consumer.close();
      await pool.end();
      await db.drop();
    });
  });

  it('skips a change queued before the ALTER that arrives after a later one, from another partition', async () => {
    // the probe's stay 1: its typed texts fall in two partitions, as they did in the demo
    const oldLane = partitionOf(typedKeyText({ admissionId: 1 }), PARTITIONS);
    const newLane = partitionOf(typedKeyText({ admissionId: '1' }), PARTITIONS);
    expect(oldLane).not.toBe(newLane);
    const prefix = cdcQueuePrefix(topic);
    // after the ALTER: the bed NEW (string key) is applied first, its partition had no backlog
    await queueOf(partitionQueueName(prefix, newLane)).add('after-alter', { schemaVersion: 1, events: [change('1', 'NEW', pos(20))] });
    await until(async () => (await bed(1)) === 'NEW', 'the later change');
    // before the ALTER, behind a backlog in the number key's partition: the bed OLD, committed earlier
    await queueOf(partitionQueueName(prefix, oldLane)).add('before-alter', { schemaVersion: 1, events: [change(1, 'OLD', pos(10))] });
    await until(() => outcomes.length === 2, 'the earlier change handled');
    expect(outcomes[1]).toEqual({ applied: 0, skipped: 1 });
    expect(await bed(1)).toBe('NEW');
    const { rows } = await pool.query<{ key: string; position: string }>('SELECT key, position FROM ficus_change_positions WHERE topic = $1', [topic]);
    expect(rows).toEqual([{ key: '[["admissionId","1"]]', position: pos(20) }]);
    // and from now on both forms travel in one partition
    expect(partitionOf(keyText({ admissionId: 1 }), PARTITIONS)).toBe(partitionOf(keyText({ admissionId: '1' }), PARTITIONS));
  });

  it('skips an old dead letter of the number key replayed after a later change of the row', async () => {
    const oldLane = partitionQueueName(cdcQueuePrefix(topic), partitionOf(typedKeyText({ admissionId: 1 }), PARTITIONS));
    // a letter written before the upgrade: number key, a position before the row's last one (20)
    const letter: DeadLetter<ChangeBatch> = { queue: oldLane, jobId: 'old-job', name: 'cdc', data: { schemaVersion: 1, events: [change(1, 'STALE', pos(15))] }, error: 'refused then', attempts: 8, failedAt: new Date().toISOString() };
    await queueOf<DeadLetter<ChangeBatch>>(deadLetterQueueName(oldLane)).add('cdc', letter, { jobId: 'dead-old-job' });
    const desk = new DeadLetterDesk({ connection: redis, families: () => [{ prefix: cdcQueuePrefix(topic), partitions: PARTITIONS, describe: changeBatchSummary }] });
    closers.push(() => desk.close());
    const before = outcomes.length;
    await desk.replay(oldLane, 'dead-old-job');
    await until(() => outcomes.length > before, 'the replayed letter handled');
    expect(outcomes.at(-1)).toEqual({ applied: 0, skipped: 1 });
    expect(await bed(1)).toBe('NEW');
    // a later change of the row, in either form, still applies
    await queueOf(oldLane).add('later', { schemaVersion: 1, events: [change(1, 'LATER', pos(30))] });
    await until(async () => (await bed(1)) === 'LATER', 'a later change of the number key');
  });
});

describe('the upgrade of stored positions (migrations/change-consumer/003)', () => {
  it('carries typed keys over to the canonical text, the later position winning, and a second run changes nothing', async () => {
    const db = await createTestDatabase(inject('databaseUrl'), 'key_text_migration');
    const dir = mkdtempSync(path.join(tmpdir(), 'ficus-key-migration-'));
    const pool = new pg.Pool({ connectionString: db.url });
    try {
      // the database as the version before left it: migrations 001 and 002 only
      const all = path.join(ROOT, 'migrations/change-consumer');
      for (const f of ['001_change-positions.sql', '002_tombstones-index.sql']) cpSync(path.join(all, f), path.join(dir, f));
      await runMigrations({ databaseUrl: db.url, dir, table: 'ficus_change_consumer_pgmigrations', createDatabase: false });
      const rows: [string, string, string, boolean][] = [
        // one row under both forms: the typed one later
        ['admissions', typedKeyText({ admissionId: 1 }), pos(30), false],
        ['admissions', keyText({ admissionId: 1 }), pos(20), false],
        // one row under both forms: the canonical one later, the typed one a tombstone
        ['admissions', typedKeyText({ admissionId: 2 }), pos(10), true],
        ['admissions', keyText({ admissionId: 2 }), pos(40), false],
        // typed only; a negative number; a composite key; a longer position is a later one
        ['admissions', typedKeyText({ admissionId: 3 }), pos(5), false],
        ['merges', typedKeyText({ mergeId: -5 }), pos(6), true],
        ['results', typedKeyText({ b: 'x"y', a: 7 }), pos(7), false],
        ['results', typedKeyText({ a: '7', b: 'x"y' }), `${pos(7)}0`, false],
        // left as they are: text keys, a json key value, text that is not a key
        ['patients', keyText({ mrn: '100001' }), pos(8), false],
        ['docs', typedKeyText({ doc: { a: 1 } }), pos(9), false],
        ['odd', 'old-1', pos(1), false],
      ];
      for (const [topic, key, position, deleted] of rows) {
        await pool.query("INSERT INTO ficus_change_positions (topic, key, source, position, deleted) VALUES ($1, $2, 'legacy-pg', $3, $4)", [topic, key, position, deleted]);
      }
      const byTopicAndKey = (a: unknown[], b: unknown[]) => (`${String(a[0])} ${String(a[1])}` < `${String(b[0])} ${String(b[1])}` ? -1 : 1);
      const table = async () =>
        (await pool.query<{ topic: string; key: string; position: string; deleted: boolean }>('SELECT topic, key, position, deleted FROM ficus_change_positions')).rows
          .map((r) => [r.topic, r.key, r.position, r.deleted])
          .sort(byTopicAndKey);

      // 003 carries the keys over; the later ones (004 snapshot ends) leave the positions alone
      expect((await migrateChangeConsumer(db.url))[0]).toBe('003_canonical-key-text');
      const after = await table();
      expect(after).toEqual(
        [
          ['admissions', keyText({ admissionId: 1 }), pos(30), false],
          ['admissions', keyText({ admissionId: 2 }), pos(40), false],
          ['admissions', keyText({ admissionId: 3 }), pos(5), false],
          ['docs', typedKeyText({ doc: { a: 1 } }), pos(9), false],
          ['merges', keyText({ mergeId: -5 }), pos(6), true],
          ['odd', 'old-1', pos(1), false],
          ['patients', keyText({ mrn: '100001' }), pos(8), false],
          ['results', keyText({ a: 7, b: 'x"y' }), `${pos(7)}0`, false],
        ].sort(byTopicAndKey),
      );
      // the canonical texts are the ones the code computes (keyText), byte for byte
      expect(after.map((r) => r[1])).toContain('[["admissionId","1"]]');
      expect(after.map((r) => r[1])).toContain('[["a","7"],["b","x\\"y"]]');

      // run again (by hand, as a restored backup might need): nothing changes
      await rerunUpMigration(pool, path.join(all, '003_canonical-key-text.sql'));
      expect(await table()).toEqual(after);
    } finally {
      await pool.end();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
