/**
 * A service's database that is not there for a while (the 2026-12 probe took the legacy
 * database away for 160 s and the write-back dead-lettered its jobs after 8 tries; the services'
 * CDC consumers did the same with their own databases), on a real Redis and PostgreSQL: the
 * job waits in place, its partition holding, without using up its tries, for as long as the
 * database is away; the waiting shows (state, last error) and is logged once when it starts
 * and once when it ends, not at every try; then the job is applied, nothing dead-lettered.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { partitionQueueName, withDatabase, type ChangeBatch, type ChangeEvent } from '@ficus/contracts';
import { cdcQueuePrefix, isUnavailable, migrateChangeConsumer, NotNowWatch, startChangeConsumer, type PartitionedConsumer } from '@ficus/contracts/queues';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { until } from '../../test-support/until.js';

const topic = `wards-${randomBytes(3).toString('hex')}`;
const lines: { level: number; msg: string; err?: string }[] = [];
const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { level: number; msg: string }) });

let redis: Redis;
let db: TestDatabase;
let pool: pg.Pool;
let admin: pg.Client;
let consumer: PartitionedConsumer<ChangeBatch>;
const watch = new NotNowWatch({ log, what: "the service's database", fields: { topic } });

function change(code: string, description: string, position: string): ChangeEvent {
  return {
    schemaVersion: 1,
    topic,
    op: 'create',
    key: { code },
    before: null,
    after: { code, description },
    source: { system: 'postgres', name: 'legacy-pg', database: 'legacy_his', schema: 'public', table: 'ward', position, txId: '3', commitTime: null, origin: null },
  };
}
const allowConnections = async (allow: boolean) => {
  await admin.query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS ${allow}`);
  if (!allow) await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db.name]);
};

beforeAll(async () => {
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  db = await createTestDatabase(inject('databaseUrl'), 'unavailable');
  await migrateChangeConsumer(db.url);
  pool = new pg.Pool({ connectionString: db.url });
  pool.on('error', () => undefined); // idle connections cut by the outage
  await pool.query('CREATE TABLE wards (code TEXT PRIMARY KEY, description TEXT NOT NULL)');
  admin = new pg.Client({ connectionString: withDatabase(inject('databaseUrl'), 'postgres') });
  await admin.connect();
  consumer = await startChangeConsumer({
    connection: redis,
    topic,
    partitions: 1,
    pool,
    log,
    unavailable: watch,
    // two tries only: the old code dead-lettered the job within 100 ms of the outage
    retry: { attempts: 2, baseMs: 20, maxMs: 50 },
    apply: async (changes, client) => {
      for (const c of changes) await client.query('INSERT INTO wards VALUES ($1, $2) ON CONFLICT (code) DO UPDATE SET description = excluded.description', [c.key.code, c.after!.description]);
    },
  });
});
afterAll(async () => {
  await allowConnections(true).catch(() => undefined);
  await consumer?.close();
  await admin?.end();
  await pool?.end();
  await db?.drop();
  redis?.disconnect();
});

describe("the service's database away", () => {
  it('waits in place without using up the tries, shows and logs the state once, then applies', async () => {
    const queue = new Queue<ChangeBatch>(partitionQueueName(cdcQueuePrefix(topic), 0), { connection: redis });
    try {
      await allowConnections(false);
      await queue.add('during-outage', { schemaVersion: 1, events: [change('ICU', 'INTENSIVE CARE', '0000000000000010/00000001')] });
      await queue.add('behind-it', { schemaVersion: 1, events: [change('ICU', 'INTENSIVE CARE UNIT', '0000000000000011/00000001')] });
      await until(() => watch.status(), 'the waiting to show');
      await sleep(2_500);
      const waiting = watch.status()!;
      expect(waiting.partitions).toEqual([0]);
      expect(waiting.tries).toBeGreaterThan(10);
      expect(waiting.lastError).toMatch(/not currently accepting connections \(55000\)|terminat/);
      expect(await consumer.deadLetters()).toEqual([]);

      await allowConnections(true);
      await until(async () => (await pool.query<{ description: string }>("SELECT description FROM wards WHERE code = 'ICU'")).rows[0]?.description === 'INTENSIVE CARE UNIT', 'both jobs applied, in order');
      expect(watch.status()).toBeNull();
      expect(await consumer.deadLetters()).toEqual([]);
      // one line when it began, one when it ended: not one per try
      const told = lines.filter((l) => /not available|available again|trying again|dead-lettered/.test(l.msg)).map((l) => l.msg);
      expect(told).toEqual([
        "the service's database is not available: jobs wait in place, their partitions hold, nothing is dead-lettered",
        "the service's database is available again; the waiting jobs go on",
      ]);
    } finally {
      await queue.close();
    }
  });

  it('tells an outage from a refusal', () => {
    expect(isUnavailable(Object.assign(new Error('database "x" is not currently accepting connections'), { code: '55000' }))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('cannot delete from table "x" because it does not have a replica identity'), { code: '55000' }))).toBe(false);
    // a server whose lc_messages is German: the words differ, the routine (what PostgreSQL 15 sends, seen on a real one) does not
    expect(isUnavailable(Object.assign(new Error('Datenbank »x« akzeptiert gegenwärtig keine Verbindungen'), { code: '55000', routine: 'CheckMyDatabase' }))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('kann nicht aus Tabelle »x« löschen'), { code: '55000', routine: 'CheckCmdReplicaIdentity' }))).toBe(false);
    expect(isUnavailable(Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' }))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('the database system is starting up'), { code: '57P03' }))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('sorry, too many clients already'), { code: '53300' }))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('deadlock detected'), { code: '40P01' }))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isUnavailable(Object.assign(new Error('new row violates check constraint "x"'), { code: '23514' }))).toBe(false);
    expect(isUnavailable(new Error('a bug'))).toBe(false);
  });
});
