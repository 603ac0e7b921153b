/**
 * A partitioned consumer in a process of its own, for contracts/test/worker-stalls.test.ts:
 * while it holds the job whose id is KILL_ON, its handler kills its own process with SIGKILL
 * (as the OOM killer would), the first KILL_TIMES times that job is taken (unset: every time).
 * Its journal (`taken:<id>` each time that job is taken, `applied:<id>`, `noted:<id>` from its
 * deadLettering hook) is a Redis list under PREFIX, since the test outlives each process. A short lock (1 s) and stall
 * check (0.5 s) so that BullMQ finds the stopped worker's job within seconds.
 */
import { Redis } from 'ioredis';
import { createLogger } from '../../src/logger.js';
import { PartitionedConsumer } from '../../src/queues/partitioned-consumer.js';

const prefix = process.env.PREFIX!;
const killOn = process.env.KILL_ON;
const killTimes = process.env.KILL_TIMES ? Number(process.env.KILL_TIMES) : Infinity;
const journal = `${prefix}:journal`;
const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
const log = createLogger('stalling-consumer', { level: 'warn' });

await PartitionedConsumer.start<{ id: string }>({
  connection: redis,
  prefix,
  partitions: 1,
  log,
  lockDurationMs: 1_000,
  stalledIntervalMs: 500,
  handle: async (job) => {
    if (job.data.id === killOn) {
      await redis.rpush(journal, `taken:${job.data.id}`);
      if ((await redis.incr(`${prefix}:kills`)) <= killTimes) process.kill(process.pid, 'SIGKILL');
    }
    await redis.rpush(journal, `applied:${job.data.id}`);
  },
  deadLettering: async (job) => {
    await redis.rpush(journal, `noted:${job.data.id}`);
  },
});
log.warn('consuming');
