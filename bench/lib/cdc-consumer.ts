/**
 * The CDC benchmark's stand-in service, in a process of its own: consumes the topics' queues
 * with startChangeConsumer into a target database (test-support/cdc-target.ts: batched upserts,
 * the commit time of every applied change beside its apply time), and prints how many events
 * it has taken, one JSON line every 200 ms.
 */
import { Redis } from 'ioredis';
import pg from 'pg';
import { createLogger } from '@ficus/contracts';
import { startTargetConsumers, type MirroredTopic } from '../../test-support/cdc-target.js';

const topics = JSON.parse(process.env.TOPICS!) as MirroredTopic[];
const pool = new pg.Pool({ connectionString: process.env.TARGET_URL, max: 30 });
const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: null });
let events = 0;
const consumers = await startTargetConsumers({
  connection: redis,
  pool,
  topics,
  partitions: Number(process.env.PARTITIONS ?? 8),
  log: createLogger('bench-consumer', { level: 'warn' }),
  recordLag: true,
  applied: (r) => (events += r.applied.length + r.skipped),
});
setInterval(() => process.stdout.write(`${JSON.stringify({ events })}\n`), 200);
process.on('SIGTERM', () => {
  void Promise.all(consumers.map((c) => c.close())).then(() => process.exit(0));
});
