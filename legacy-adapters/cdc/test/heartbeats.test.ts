/**
 * The CDC reader's heartbeats (the services' measure of how fresh their copy is): with nothing
 * changing, every partition queue of every topic gets one about every CDC_HEARTBEAT_MS, each
 * later than the last; a change is enqueued ahead of every heartbeat that claims a time after
 * its commit; a stopped reader (SIGSTOP) stops them. A consumer reaching one writes nothing,
 * and a consumer that does not know them applies an empty batch.
 */
import { Queue, type Job } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import pg from 'pg';
import { createLogger, keyText, partitionOf, partitionQueueName, type ChangeBatch } from '@ficus/contracts';
import { cdcQueuePrefix, changeBatchProblem, migrateChangeConsumer, startChangeConsumer, type PartitionedConsumer } from '@ficus/contracts/queues';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { startScene, until, type CdcProcess, type Scene } from './support/cdc-scene.js';

let s: Scene;
let cdc: CdcProcess;
const queues: Queue<ChangeBatch>[] = [];

function queueOf(topic: string, partition: number): Queue<ChangeBatch> {
  const q = new Queue<ChangeBatch>(partitionQueueName(cdcQueuePrefix(topic), partition), { connection: s.redis });
  queues.push(q);
  return q;
}

/** the jobs waiting on a queue, oldest first */
async function waiting(q: Queue<ChangeBatch>): Promise<Job<ChangeBatch>[]> {
  return (await q.getJobs(['waiting'], 0, -1, true)).sort((a, b) => a.timestamp - b.timestamp || Number(a.id) - Number(b.id));
}

const heartbeatTimes = (jobs: Job<ChangeBatch>[]) => jobs.filter((j) => j.data.heartbeat).map((j) => Date.parse(j.data.heartbeat!.at));

beforeAll(async () => {
  s = await startScene({ name: 'heartbeats', seedPatients: 5 });
  // the server's keepalives, which say up to when it has sent everything, come at the status interval
  cdc = await s.start({ CDC_HEARTBEAT_MS: '200', CDC_STATUS_INTERVAL_MS: '200' });
});
afterAll(async () => {
  await Promise.all(queues.map((q) => q.close()));
  if (cdc?.child.signalCode === null && cdc.child.exitCode === null) cdc.child.kill('SIGCONT');
  await cdc?.stop();
  await s?.close();
});

describe('heartbeats', () => {
  it('keep coming on every partition of every topic while nothing changes, each later than the last', async () => {
    const all = s.topics.flatMap((t) => Array.from({ length: 8 }, (_, p) => queueOf(t.topic, p)));
    await sleep(1_500);
    for (const q of all) {
      const times = heartbeatTimes(await waiting(q));
      expect(times.length, q.name).toBeGreaterThanOrEqual(3);
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      expect(new Set(times).size).toBe(times.length);
      expect(Date.now() - times.at(-1)!).toBeLessThan(1_500);
    }
    const one = (await waiting(all[0]!)).find((j) => j.data.heartbeat)!;
    expect(one.name).toBe('heartbeat');
    expect(one.data).toMatchObject({ schemaVersion: 1, events: [], heartbeat: { source: 'legacy-pg' } });
    // what a consumer of the version before heartbeats checks: a batch of no events, applied as nothing, never dead-lettered
    expect(changeBatchProblem(one.data)).toBeUndefined();
  });

  it('come behind the changes they vouch for', async () => {
    const topic = s.topic('patients');
    const q = queueOf(topic, partitionOf(keyText({ mrn: '100002' }), 8));
    await s.legacyPool.query("UPDATE PATIENT_MASTER SET CITY_NM = 'HEARTBEAT TOWN' WHERE PAT_MRN = '100002'");
    const jobs = await until(async () => {
      const list = await waiting(q);
      const i = list.findIndex((j) => j.data.events.some((e) => e.key.mrn === '100002' && e.after?.city === 'HEARTBEAT TOWN'));
      if (i < 0) return undefined;
      const committed = Date.parse(list[i]!.data.events.find((e) => e.after?.city === 'HEARTBEAT TOWN')!.source.commitTime!);
      return heartbeatTimes(list.slice(i + 1)).some((t) => t > committed) ? list : undefined;
    }, 'the change and a heartbeat behind it');
    const at = jobs.findIndex((j) => j.data.events.some((e) => e.after?.city === 'HEARTBEAT TOWN'));
    const committed = Date.parse(jobs[at]!.data.events.find((e) => e.after?.city === 'HEARTBEAT TOWN')!.source.commitTime!);
    // no heartbeat ahead of the change says the partition was caught up past its commit (a clock's slack allowed)
    for (const t of heartbeatTimes(jobs.slice(0, at))) expect(t).toBeLessThan(committed + 50);
  });

  it('stop while the reader is stopped, and come again when it goes on', async () => {
    const q = queueOf(s.topic('wards'), 3);
    cdc.child.kill('SIGSTOP');
    await sleep(300); // one already on its way may land
    const stoppedAt = (await waiting(q)).length;
    await sleep(1_000);
    expect((await waiting(q)).length).toBe(stoppedAt);
    cdc.child.kill('SIGCONT');
    await until(async () => ((await waiting(q)).length > stoppedAt ? true : undefined), 'a heartbeat after SIGCONT');
  });

  it('are applied by a consumer without a transaction, a position or a dead letter; the previous version took them for an empty batch', async () => {
    const db: TestDatabase = await createTestDatabase(inject('databaseUrl'), 'cdc_heartbeats_consumer');
    await migrateChangeConsumer(db.url);
    const pool = new pg.Pool({ connectionString: db.url, max: 4 });
    const log = createLogger('heartbeat-test', { level: 'silent' });
    const heard: number[] = [];
    const consumers: PartitionedConsumer<ChangeBatch>[] = [];
    try {
      const topic = s.topic('wards');
      const keys = new Set<string>();
      consumers.push(await startChangeConsumer({ connection: s.redis, topic, partitions: 8, pool, log, apply: async (c) => c.forEach((e) => keys.add(keyText(e.key))), heartbeat: (h) => heard.push(h.atMs) }));
      await until(async () => (heard.length >= 16 ? true : undefined), 'heartbeats heard');
      await sleep(300); // the last transactions commit
      // the wards of the snapshot have positions; the heartbeats around them added none
      expect(keys.size).toBeGreaterThan(0);
      expect((await pool.query('SELECT count(*)::int AS n FROM ficus_change_positions')).rows[0].n).toBe(keys.size);
      const dead = (await Promise.all(consumers.map((c) => c.deadLetters()))).flat();
      expect(dead).toEqual([]);
    } finally {
      await Promise.all(consumers.map((c) => c.close()));
      await pool.end();
      await db.drop();
    }
  });
});
