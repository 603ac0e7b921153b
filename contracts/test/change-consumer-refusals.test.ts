/**
 * One refused row among many (the 2026-12 probe: one legacy transaction changed the cities of
 * a thousand patients and set a sex code the service's check refuses on one of them; the whole
 * 126-event job of that partition was tried 8 times for a minute, holding one patient in eight,
 * then dead-lettered whole, under a listing that named no key), on a real Redis and PostgreSQL:
 * the other rows' changes are applied at once, the refused row's changes become a dead letter
 * of their own saying table, position and key columns (no values), the row's later change
 * applies, and the documented recovery (mend the row in the legacy, replay) skips the bad
 * change as older.
 */
import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger, partitionQueueName, type ChangeBatch, type ChangeEvent } from '@ficus/contracts';
import { cdcQueuePrefix, changeBatchSummary, DeadLetterDesk, migrateChangeConsumer, startChangeConsumer, type PartitionedConsumer } from '@ficus/contracts/queues';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { until } from '../../test-support/until.js';

const log = createLogger('refusals-test', { level: 'silent' });
const topic = `patients-${randomBytes(3).toString('hex')}`;
const queueName = partitionQueueName(cdcQueuePrefix(topic), 0);
const pos = (lsn: number, i: number) => `${lsn.toString(16).toUpperCase().padStart(16, '0')}/${i.toString(16).padStart(8, '0')}`;
const mrnOf = (i: number) => `MRN-${String(i).padStart(4, '0')}`;
const BAD = mrnOf(77);

let redis: Redis;
let db: TestDatabase;
let pool: pg.Pool;
let consumer: PartitionedConsumer<ChangeBatch>;
let desk: DeadLetterDesk;
let queue: Queue<ChangeBatch>;
let wholeJobTries = 0;
const outcomes: { applied: number; skipped: number }[] = [];

function change(mrn: string, city: string, sex: string, position: string): ChangeEvent {
  return {
    schemaVersion: 1,
    topic,
    op: 'update',
    key: { mrn },
    before: null,
    after: { mrn, city, sex },
    source: { system: 'postgres', name: 'legacy-pg', database: 'legacy_his', schema: 'public', table: 'patient_master', position, txId: '9', commitTime: '2026-12-02T08:00:00.000+00:00', origin: null },
  };
}
const row = async (mrn: string) => (await pool.query<{ city: string; sex: string }>('SELECT city, sex FROM patients WHERE mrn = $1', [mrn])).rows[0];

beforeAll(async () => {
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  db = await createTestDatabase(inject('databaseUrl'), 'refusals');
  await migrateChangeConsumer(db.url);
  pool = new pg.Pool({ connectionString: db.url });
  // the service's schema is stricter than the legacy's
  await pool.query("CREATE TABLE patients (mrn TEXT PRIMARY KEY, city TEXT, sex TEXT NOT NULL CONSTRAINT patients_sex_ck CHECK (sex IN ('M', 'F', 'U')))");
  await pool.query("INSERT INTO patients SELECT 'MRN-' || lpad(i::text, 4, '0'), 'OLD CITY', 'F' FROM generate_series(0, 125) i");
  consumer = await startChangeConsumer({
    connection: redis,
    topic,
    partitions: 1,
    pool,
    log,
    // the default policy's 8 tries, faster: the old code took about 6 s to dead-letter the job
    retry: { attempts: 8, baseMs: 200, maxMs: 1_000 },
    tombstoneRetentionDays: 30,
    applied: (r) => outcomes.push({ applied: r.applied.length, skipped: r.skipped }),
    apply: async (changes, client) => {
      if (changes.length > 1) wholeJobTries++;
      await client.query(
        `INSERT INTO patients (mrn, city, sex) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
         ON CONFLICT (mrn) DO UPDATE SET city = excluded.city, sex = excluded.sex`,
        [changes.map((c) => c.key.mrn), changes.map((c) => c.after!.city), changes.map((c) => c.after!.sex)],
      );
    },
  });
  desk = new DeadLetterDesk({ connection: redis, families: () => [{ prefix: cdcQueuePrefix(topic), partitions: 1, describe: changeBatchSummary }] });
  queue = new Queue<ChangeBatch>(queueName, { connection: redis });
});
afterAll(async () => {
  await consumer?.close();
  await desk?.close();
  await queue?.close();
  redis?.disconnect();
  await pool?.end();
  await db?.drop();
});

describe('a change batch with one row the service refuses', () => {
  it('applies the other rows at once and dead-letters only the refused row, naming where it is without its values', async () => {
    // one legacy transaction: 126 patients move, one of them also gets a sex code the service refuses
    const events = Array.from({ length: 126 }, (_, i) => change(mrnOf(i), `CITY ${i}`, mrnOf(i) === BAD ? 'X' : 'F', pos(100, i + 1)));
    const started = Date.now();
    await queue.add('bulk', { schemaVersion: 1, events });
    await until(async () => (await desk.list({ limit: 10 })).deadLetters.length === 1, 'the dead letter', 10_000);
    await until(() => outcomes.length === 1, 'the job done');
    // no 8 tries: the whole job was tried once, then key by key
    expect(wholeJobTries).toBe(1);
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(outcomes[0]).toEqual({ applied: 125, skipped: 0 });
    expect(await row(mrnOf(3))).toEqual({ city: 'CITY 3', sex: 'F' });
    expect(await row(BAD)).toEqual({ city: 'OLD CITY', sex: 'F' });

    const [letter] = (await desk.list({ limit: 10 })).deadLetters;
    expect(letter!.queue).toBe(queueName);
    expect(letter!.attempts).toBe(1);
    expect(letter!.error).toBe(
      `the service's database refused the update of legacy-pg:patient_master at position ${pos(100, 78)}, key (mrn): ` +
        'new row for relation "patients" violates check constraint "patients_sex_ck" (23514); the job\'s other keys were applied',
    );
    expect(letter!.summary).toMatchObject({ events: 1, keys: 1, keyColumns: ['mrn'], tables: ['legacy-pg:patient_master'], firstPosition: pos(100, 78) });
    expect(JSON.stringify(letter)).not.toContain(BAD);
  });

  it("applies the refused row's later change, and a replay after the legacy row was mended skips the bad change as older", async () => {
    // the operator mends the row on a legacy screen: a later change of that patient
    await queue.add('mended', { schemaVersion: 1, events: [change(BAD, 'CITY 77', 'M', pos(101, 1))] });
    await until(async () => (await row(BAD))?.sex === 'M', 'the mended row');
    const [letter] = (await desk.list({ limit: 10 })).deadLetters;
    const before = outcomes.length;
    await desk.replay(letter!.queue, letter!.id);
    await until(() => outcomes.length === before + 1, 'the replay handled');
    expect(outcomes.at(-1)).toEqual({ applied: 0, skipped: 1 });
    expect(await row(BAD)).toEqual({ city: 'CITY 77', sex: 'M' });
    expect((await desk.list({ limit: 10 })).counts).toEqual([{ prefix: cdcQueuePrefix(topic), count: 0 }]);
  });

  it('dead-letters each refused row on its own, under an id made of the job and the position', async () => {
    // two bad rows, one of them changed twice in the job
    const events = [change(mrnOf(1), 'A', 'Q', pos(200, 1)), change(mrnOf(2), 'B', 'M', pos(200, 2)), change(mrnOf(1), 'A2', 'Z', pos(200, 3)), change(mrnOf(5), 'C', 'W', pos(200, 4))];
    await queue.add('two-bad', { schemaVersion: 1, events }, { jobId: 'two-bad' });
    await until(async () => (await desk.list({ limit: 10 })).deadLetters.length === 2, 'two dead letters');
    const letters = (await desk.list({ limit: 10 })).deadLetters.sort((a, b) => a.id.localeCompare(b.id));
    expect(letters.map((l) => [l.id, l.summary.events])).toEqual([
      [`dead-two-bad-at-${pos(200, 3).replace('/', '-')}`, 2],
      [`dead-two-bad-at-${pos(200, 4).replace('/', '-')}`, 1],
    ]);
    expect(letters[0]!.error).toContain(`at position ${pos(200, 3)} (2 changes of the key in the job, from ${pos(200, 1)})`);
    expect(await row(mrnOf(2))).toEqual({ city: 'B', sex: 'M' });
    for (const l of letters) await desk.discard(l.queue, l.id);
  });
});
