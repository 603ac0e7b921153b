/**
 * What the CDC deployable left on a topic's partition queues (no consumer in these tests, so
 * every job waits), and the error a stopped source reports: read the same way by every test that
 * watches the source's output rather than a service.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { partitionQueueName, type ChangeBatch, type ChangeEvent } from '@ficus/contracts';
import { cdcQueuePrefix } from '@ficus/contracts/queues';
import { until } from '../../../../test-support/until.js';
import type { CdcProcess } from './cdc-scene.js';

const PARTITIONS = 8;

/** Every batch waiting on the topic's partition queues, partition by partition. */
export async function queuedBatches(redis: Redis, topic: string): Promise<ChangeBatch[]> {
  const batches: ChangeBatch[] = [];
  for (let p = 0; p < PARTITIONS; p++) {
    const q = new Queue<ChangeBatch>(partitionQueueName(cdcQueuePrefix(topic), p), { connection: redis });
    for (const j of await q.getJobs(['waiting'], 0, -1, true)) batches.push(j.data);
    await q.close();
  }
  return batches;
}

/** The events of every batch waiting on the topic (snapshot events included). */
export async function queuedEvents(redis: Redis, topic: string): Promise<ChangeEvent[]> {
  return (await queuedBatches(redis, topic)).flatMap((b) => b.events);
}

/** Waits until the source has stopped (readyz 503, state error) and answers its error. */
export async function stoppedWith(cdc: CdcProcess): Promise<string> {
  return until(async () => {
    const r = await fetch(`${cdc.url}/readyz`).catch(() => undefined); // not listening yet
    if (!r) return false;
    const body = (await r.json()) as { sources: { state: string; error?: string }[] };
    return r.status === 503 && body.sources[0]!.state === 'error' && body.sources[0]!.error!;
  }, 'the source to stop');
}
