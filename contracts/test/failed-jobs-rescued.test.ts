/**
 * Jobs BullMQ failed on its own, outside the consumer's processor, on a real Redis: a job an
 * older Ficus let BullMQ fail at its second stall, and a job BullMQ had marked to fail that a
 * worker then takes (it fails it without running the processor). Neither was applied, and a
 * failed job sat in a list nobody reads: until 2026-12-07 both were lost without a dead letter.
 * Now each is moved to the dead letters, noted first, where `ficus queues dead-letters` shows it,
 * at start, when it fails, and by a sweep while the consumer runs (a rescue that failed when the
 * job did is not left until the next start).
 */
import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger, partitionQueueName } from '@ficus/contracts';
import { PartitionedConsumer } from '@ficus/contracts/queues';
import { until } from '../../test-support/until.js';

let redis: Redis;
const queues: Queue[] = [];
const log = createLogger('rescue-test', { level: 'silent' });

beforeAll(() => {
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
});
afterAll(async () => {
  await Promise.all(queues.map((q) => q.close()));
  redis.disconnect();
});

function partitionQueue(): { prefix: string; queue: Queue<{ id: string }> } {
  const prefix = `test.rescue.${randomBytes(3).toString('hex')}`;
  const queue = new Queue<{ id: string }>(partitionQueueName(prefix, 0), { connection: redis });
  queues.push(queue as Queue);
  return { prefix, queue };
}

function consumer(prefix: string, journal: string[]) {
  return PartitionedConsumer.start<{ id: string }>({
    connection: redis,
    prefix,
    partitions: 1,
    retry: { maxMs: 50 },
    log,
    handle: async (job) => void journal.push(`applied:${job.data.id}`),
    deadLettering: async (job) => void journal.push(`noted:${job.data.id}`),
  });
}

describe('a job BullMQ failed outside the consumer', () => {
  it('found failed at start (an older version let BullMQ fail it): moved to the dead letters, noted first', async () => {
    const { prefix, queue } = partitionQueue();
    const [lost] = await queue.addBulk([{ name: 'x', data: { id: 'lost' } }]);
    // as BullMQ left a job of an older Ficus at its second stall: failed, never applied
    const old = new Worker(queue.name, async () => Promise.reject(new Error('job stalled more than allowable limit')), { connection: redis });
    await until(async () => (await lost!.getState()) === 'failed', 'the job failed by BullMQ');
    await old.close();

    const journal: string[] = [];
    const c = await consumer(prefix, journal);
    try {
      expect(journal).toEqual(['noted:lost']);
      const letters = await c.deadLetters();
      expect(letters.map((l) => ({ jobId: l.jobId, data: l.data, error: l.error }))).toEqual([
        { jobId: lost!.id, data: { id: 'lost' }, error: 'failed by the queue library outside the consumer: job stalled more than allowable limit; it was not applied' },
      ]);
      expect(await queue.getFailedCount()).toBe(0);
    } finally {
      await c.close();
    }
  });

  it('marked by BullMQ to fail when next taken (its stall limit, before 2026-12-07): dead-lettered, not applied, the partition goes on', async () => {
    const { prefix, queue } = partitionQueue();
    const [marked, next] = await queue.addBulk([{ name: 'x', data: { id: 'marked' } }, { name: 'x', data: { id: 'next' } }]);
    // what BullMQ's stalled check of an older Ficus wrote on a job it handed back a second time
    await redis.hset(`bull:${queue.name}:${marked!.id}`, 'defa', 'job stalled more than allowable limit', 'stc', 2);
    const journal: string[] = [];
    const c = await consumer(prefix, journal);
    try {
      await until(async () => journal.includes('applied:next') && (await c.deadLetters()).length === 1, 'the next job and the dead letter');
      expect(journal).not.toContain('applied:marked');
      expect(journal).toContain('noted:marked');
      expect((await c.deadLetters()).map((l) => ({ jobId: l.jobId, error: l.error }))).toEqual([
        { jobId: marked!.id, error: 'failed by the queue library outside the consumer: job stalled more than allowable limit; it was not applied' },
      ]);
      expect(await queue.getFailedCount()).toBe(0);
      expect(await next!.getState()).toBe('completed');
    } finally {
      await c.close();
    }
  });

  it('whose rescue failed when it failed (the note away): moved by the next sweep, without a restart', async () => {
    const { prefix, queue } = partitionQueue();
    const [marked, next] = await queue.addBulk([{ name: 'x', data: { id: 'marked' } }, { name: 'x', data: { id: 'next' } }]);
    await redis.hset(`bull:${queue.name}:${marked!.id}`, 'defa', 'job stalled more than allowable limit', 'stc', 2);
    const journal: string[] = [];
    let noteAway = true;
    const c = await PartitionedConsumer.start<{ id: string }>({
      connection: redis,
      prefix,
      partitions: 1,
      retry: { maxMs: 50 },
      rescueIntervalMs: 200,
      log,
      handle: async (job) => void journal.push(`applied:${job.data.id}`),
      deadLettering: async (job) => {
        if (noteAway) throw new Error('the note store is away');
        journal.push(`noted:${job.data.id}`);
      },
    });
    try {
      await until(async () => journal.includes('applied:next') && (await marked!.getState()) === 'failed', 'the next job applied, the marked one failed');
      // a few sweeps while the note is away: the job stays failed, no letter
      await new Promise((r) => setTimeout(r, 600));
      expect(await c.deadLetters()).toEqual([]);
      expect(await marked!.getState()).toBe('failed');
      noteAway = false;
      await until(async () => ((await c.deadLetters()).length === 1 ? true : undefined), 'the failed job dead-lettered by a sweep');
      expect((await c.deadLetters()).map((l) => ({ jobId: l.jobId, error: l.error }))).toEqual([
        { jobId: marked!.id, error: 'failed by the queue library outside the consumer: job stalled more than allowable limit; it was not applied' },
      ]);
      expect(journal).toEqual(['applied:next', 'noted:marked']);
      expect(await queue.getFailedCount()).toBe(0);
      expect(await next!.getState()).toBe('completed');
    } finally {
      await c.close();
    }
  });
});
