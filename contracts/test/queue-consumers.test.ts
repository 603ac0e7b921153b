/**
 * The queue consumers on a real Redis and a real PostgreSQL: partitions worked strictly in
 * order across two instances, failures retried in place (the partition waits), dead letters
 * with their reason, a job handed back on shutdown, and change events applied once, by
 * source position, whatever the redeliveries.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { pino } from 'pino';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { startPrivateRedis } from '../../scripts/lib/local-services.js';
import { createLogger, type ChangeBatch, type ChangeEvent, partitionQueueName } from '@ficus/contracts';
import { cdcQueuePrefix, migrateChangeConsumer, NotYetError, PartitionedConsumer, PermanentError, startChangeConsumer } from '@ficus/contracts/queues';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { until } from '../../test-support/until.js';

const log = createLogger('queue-test', { level: 'silent' });
let redis: Redis;
const queues: Queue[] = [];
const fast = { attempts: 3, baseMs: 20, maxMs: 50 };

beforeAll(() => {
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
});
afterAll(async () => {
  await Promise.all(queues.map((q) => q.close()));
  redis.disconnect();
});

const prefixOf = (what: string) => `test.${what}.${randomBytes(3).toString('hex')}`;
function queue<T>(name: string): Queue<T> {
  const q = new Queue<T>(name, { connection: redis });
  queues.push(q as Queue);
  return q;
}

describe('partitioned consumer', () => {
  it('works each partition in order across two instances, retrying a failing job in place', async () => {
    const prefix = prefixOf('order');
    const seen: string[][] = [[], []];
    const failuresLeft = new Map([['p0-5', 2], ['p1-3', 1]]);
    const handle = async (job: { data: { id: string } }, partition: number) => {
      const left = failuresLeft.get(job.data.id) ?? 0;
      if (left > 0) {
        failuresLeft.set(job.data.id, left - 1);
        throw new Error('transient');
      }
      await sleep(Math.random() * 3);
      seen[partition]!.push(job.data.id);
    };
    const a = await PartitionedConsumer.start<{ id: string }>({ connection: redis, prefix, partitions: 2, handle, retry: fast, log });
    const b = await PartitionedConsumer.start<{ id: string }>({ connection: redis, prefix, partitions: 2, handle, retry: fast, log });
    for (const p of [0, 1]) {
      await queue<{ id: string }>(partitionQueueName(prefix, p)).addBulk(Array.from({ length: 30 }, (_, i) => ({ name: 'x', data: { id: `p${p}-${i}` } })));
    }
    await until(() => seen[0]!.length === 30 && seen[1]!.length === 30, 'all jobs');
    await Promise.all([a.close(), b.close()]);
    for (const p of [0, 1]) expect(seen[p]).toEqual(Array.from({ length: 30 }, (_, i) => `p${p}-${i}`));
    expect(failuresLeft.get('p0-5')).toBe(0);
  });

  it('dead-letters a job that keeps failing, with the reason, and the partition moves on', async () => {
    const prefix = prefixOf('dead');
    const done: number[] = [];
    let tries = 0;
    const c = await PartitionedConsumer.start<{ n: number }>({
      connection: redis,
      prefix,
      partitions: 1,
      retry: fast,
      log,
      handle: async (job) => {
        if (job.data.n === 2) {
          tries++;
          throw new Error('the service refuses this one');
        }
        if (job.data.n === 4) throw new PermanentError('bad data: no patient id');
        done.push(job.data.n);
      },
    });
    await queue<{ n: number }>(partitionQueueName(prefix, 0)).addBulk([1, 2, 3, 4, 5].map((n) => ({ name: 'x', data: { n } })));
    await until(() => done.length === 3, 'the good jobs');
    expect(done).toEqual([1, 3, 5]);
    expect(tries).toBe(3);
    const dead = await c.deadLetters();
    await c.close();
    expect(dead.map((d) => [d.data.n, d.error, d.attempts]).sort()).toEqual([
      [2, 'the service refuses this one', 3],
      [4, 'bad data: no patient id', 1],
    ]);
  });

  it('tries a job that is not applicable yet again in place, beyond the retry attempts, until its handler gives up', async () => {
    const prefix = prefixOf('notyet');
    const done: number[] = [];
    const tries = new Map<number, number>();
    const c = await PartitionedConsumer.start<{ n: number }>({
      connection: redis,
      prefix,
      partitions: 1,
      retry: fast,
      log,
      handle: async (job) => {
        const n = job.data.n;
        tries.set(n, (tries.get(n) ?? 0) + 1);
        // 1: known at its 6th try (more tries than the policy's 3); 2: the handler gives up after 4
        if (n === 1 && tries.get(n)! < 6) throw new NotYetError('no such patient yet');
        if (n === 2) throw tries.get(n)! < 4 ? new NotYetError('no such patient yet') : new PermanentError('no such patient');
        done.push(n);
      },
    });
    await queue<{ n: number }>(partitionQueueName(prefix, 0)).addBulk([1, 2, 3].map((n) => ({ name: 'x', data: { n } })));
    await until(() => done.length === 2, 'the jobs');
    const dead = await c.deadLetters();
    await c.close();
    // the partition waited for job 1: job 3 after it
    expect(done).toEqual([1, 3]);
    expect([tries.get(1), tries.get(2), tries.get(3)]).toEqual([6, 4, 1]);
    expect(dead.map((d) => [d.data.n, d.error, d.attempts])).toEqual([[2, 'no such patient', 4]]);
  });

  it('hands a job waiting for its retry back to the head of its queue on shutdown', async () => {
    const prefix = prefixOf('handback');
    const first: number[] = [];
    const a = await PartitionedConsumer.start<{ n: number }>({
      connection: redis,
      prefix,
      partitions: 1,
      retry: { attempts: 5, baseMs: 60_000, maxMs: 60_000 },
      log,
      handle: async (job) => {
        first.push(job.data.n);
        throw new Error('down');
      },
    });
    await queue<{ n: number }>(partitionQueueName(prefix, 0)).addBulk([1, 2, 3].map((n) => ({ name: 'x', data: { n } })));
    await until(() => first.length === 1, 'the first try');
    await a.close();
    const second: number[] = [];
    const b = await PartitionedConsumer.start<{ n: number }>({ connection: redis, prefix, partitions: 1, retry: fast, log, handle: async (job) => void second.push(job.data.n) });
    await until(() => second.length === 3, 'the jobs after the restart');
    await b.close();
    expect(first).toEqual([1]);
    expect(second).toEqual([1, 2, 3]);
  });

  it('refuses to start with fewer partitions than the queues the producer made', async () => {
    const prefix = prefixOf('count');
    await queue(partitionQueueName(prefix, 5)).add('x', {});
    await expect(PartitionedConsumer.start({ connection: redis, prefix, partitions: 4, handle: async () => undefined, log })).rejects.toThrow(/p5 exist but this consumer reads only 4 partitions/);
  });
});

describe('partitioned consumer, Redis gone', () => {
  it('says so in one structured line per 10 s, never in raw error prints, and works again when Redis is back', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ficus-consumer-redis-'));
    const own = await startPrivateRedis(dir, () => undefined);
    const connection = new Redis(own.url, { maxRetriesPerRequest: null, retryStrategy: () => 100 });
    connection.on('error', () => undefined);
    const lines: { msg: string; moreErrors?: number }[] = [];
    const logged = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string }) });
    const printed = vi.spyOn(console, 'error');
    const seen: string[] = [];
    const prefix = prefixOf('outage');
    const c = await PartitionedConsumer.start<{ id: string }>({ connection, prefix, partitions: 4, handle: async (job) => void seen.push(job.data.id), retry: fast, log: logged });
    let down = false;
    try {
      await own.stop();
      down = true;
      await sleep(2_500);
      expect(printed).not.toHaveBeenCalled();
      const warnings = lines.filter((l) => l.msg === 'queue worker error; it reconnects');
      expect(warnings.length).toBe(1);
      await own.start();
      down = false;
      const q = new Queue<{ id: string }>(partitionQueueName(prefix, 1), { connection: { url: own.url } });
      await q.add('x', { id: 'after-the-outage' });
      await until(() => seen.includes('after-the-outage'), 'a job after the outage');
      await q.close();
    } finally {
      printed.mockRestore();
      // closing the workers waits for Redis: bring it back first when an assertion failed while it was away
      if (down) await own.start();
      await c.close();
      connection.disconnect();
      await own.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('change consumer', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  beforeAll(async () => {
    db = await createTestDatabase(inject('databaseUrl'), 'change_consumer');
    await migrateChangeConsumer(db.url);
    pool = new pg.Pool({ connectionString: db.url });
    await pool.query('CREATE TABLE patients (mrn TEXT PRIMARY KEY, last_name TEXT NOT NULL)');
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  const pos = (lsn: number, i = 0) => `${lsn.toString(16).toUpperCase().padStart(16, '0')}/${i.toString(16).padStart(8, '0')}`;
  function change(op: ChangeEvent['op'], mrn: string, lastName: string | null, position: string, origin: string | null = null): ChangeEvent {
    return {
      schemaVersion: 1,
      topic: 'patients',
      op,
      key: { mrn },
      before: null,
      after: op === 'delete' ? null : { mrn, lastName },
      source: { system: 'postgres', name: 'legacy-pg', database: 'legacy_his', schema: 'public', table: 'patient_master', position, txId: '1', commitTime: null, origin },
    };
  }
  const apply = async (changes: ChangeEvent[], client: pg.PoolClient) => {
    for (const c of changes) {
      if (c.op === 'delete') await client.query('DELETE FROM patients WHERE mrn = $1', [c.key.mrn]);
      else await client.query('INSERT INTO patients (mrn, last_name) VALUES ($1, $2) ON CONFLICT (mrn) DO UPDATE SET last_name = excluded.last_name', [c.key.mrn, c.after!.lastName]);
    }
  };
  const table = async () => (await pool.query<{ mrn: string; last_name: string }>('SELECT mrn, last_name FROM patients ORDER BY mrn')).rows.map((r) => `${r.mrn}:${r.last_name}`);

  it('applies each key once by source position, whatever is redelivered or arrives late', async () => {
    const topic = 'patients';
    const applied: number[] = [];
    const c = await startChangeConsumer({ connection: redis, topic, partitions: 1, pool, apply, retry: fast, log, ignoreOrigins: ['ficus-writeback'], applied: (r) => applied.push(r.applied.length) });
    const q = queue<ChangeBatch>(partitionQueueName(cdcQueuePrefix(topic), 0));
    const batch = (events: ChangeEvent[]): ChangeBatch => ({ schemaVersion: 1, events });
    // one job: created, updated twice (the last counts), another created then deleted
    await q.add('b1', batch([change('create', '100001', 'SMITH', pos(10)), change('update', '100001', 'SMYTHE', pos(11)), change('create', '100002', 'JONES', pos(11, 1)), change('update', '100001', 'SMITHE', pos(12)), change('delete', '100002', null, pos(13))]));
    // the same job again (an at-least-once redelivery), then an older change arriving late
    await q.add('b1-again', batch([change('create', '100001', 'SMITH', pos(10)), change('update', '100001', 'SMITHE', pos(12)), change('create', '100002', 'JONES', pos(11, 1))]));
    await q.add('late', batch([change('update', '100001', 'OLDER', pos(11, 5))]));
    // the service's own write coming back through CDC: skipped
    await q.add('echo', batch([change('update', '100001', 'ECHO', pos(20), 'ficus-writeback')]));
    await q.add('newer', batch([change('update', '100001', 'NEWER', pos(21)), change('snapshot', '100003', 'BROWN', pos(9))]));
    await until(() => applied.length === 5, 'five jobs');
    await c.close();
    expect(await table()).toEqual(['100001:NEWER', '100003:BROWN']);
    expect(applied).toEqual([2, 0, 0, 0, 2]);
    const { rows } = await pool.query<{ key: string; position: string; deleted: boolean }>("SELECT key, position, deleted FROM ficus_change_positions WHERE topic = 'patients' ORDER BY key");
    expect(rows).toEqual([
      { key: '[["mrn","100001"]]', position: pos(21), deleted: false },
      { key: '[["mrn","100002"]]', position: pos(13), deleted: true },
      { key: '[["mrn","100003"]]', position: pos(9), deleted: false },
    ]);
  });

  it('dead-letters a job that is not a change batch of its version, and applies nothing of it', async () => {
    const topic = 'patients-bad';
    const c = await startChangeConsumer({ connection: redis, topic, partitions: 1, pool, apply, retry: fast, log });
    const q = queue<unknown>(partitionQueueName(cdcQueuePrefix(topic), 0));
    await q.add('v2', { schemaVersion: 2, events: [] });
    await q.add('broken', { schemaVersion: 1, events: [{ ...change('create', '100009', 'X', pos(1)), topic: 'patients-bad', op: 'upsert' }] });
    await until(async () => (await c.deadLetters()).length === 2, 'two dead letters');
    const dead = await c.deadLetters();
    await c.close();
    expect(dead.map((d) => d.error).sort()).toEqual([
      expect.stringMatching(/^not a change batch of version 1: events\/0\/op/),
      'not a change batch of version 1: schemaVersion 2 is not 1',
    ]);
    expect(await table()).not.toContain('100009:X');
  });
});
