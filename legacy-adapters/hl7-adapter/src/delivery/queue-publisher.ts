/**
 * Messages for the new services go to BullMQ queues, one per service and partition
 * (`hl7.patient-service.p3`): a consumer with one worker per partition queue sees each
 * patient's messages in order. A job's id is derived from the message (or from the replay),
 * so publishing again after a crash adds nothing: BullMQ keeps one job per id.
 *
 * The publisher's Redis connection fails fast: while Redis is away a publish is refused at once
 * (no command waits in a client-side queue, where retries would pile up), the dispatcher keeps
 * the deliveries pending and tries again with backoff.
 */
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { PendingDelivery } from './delivery-store.js';
import type { QueueDepth } from '../ops/metrics.js';
import { hl7QueueName, type Hl7Job } from '@ficus/contracts';

export function jobIdOf(d: Pick<PendingDelivery, 'replay' | 'id' | 'messageId'>): string {
  return d.replay ? `replay-${d.id}` : `message-${d.messageId}`;
}

export class QueueUnavailableError extends Error {}

export interface QueuePublisherOptions {
  redisUrl: string;
  /** BullMQ's key prefix (its default: bull) */
  prefix: string;
  /** a publish not answered within this is a failure (tried again later; BullMQ drops the duplicate if both land) */
  timeoutMs: number;
}

export class QueuePublisher {
  private readonly queues = new Map<string, Queue<Hl7Job>>();
  private readonly connection: Redis;

  constructor(private readonly o: QueuePublisherOptions) {
    this.connection = new Redis(o.redisUrl, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (n) => Math.min(n * 200, 2_000),
    });
    this.connection.on('error', () => undefined); // publishes fail and are retried; the dispatcher logs it
  }

  private queue(name: string): Queue<Hl7Job> {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue<Hl7Job>(name, {
        connection: this.connection,
        prefix: this.o.prefix,
        defaultJobOptions: {
          attempts: 10,
          backoff: { type: 'exponential', delay: 1_000 },
          // kept long enough for a resend to be recognised, then cleaned up
          removeOnComplete: { age: 7 * 24 * 3600, count: 1_000_000 },
          removeOnFail: false,
        },
      });
      q.on('error', () => undefined);
      this.queues.set(name, q);
    }
    return q;
  }

  /** Adds the deliveries of one lane, in order, in one round trip. */
  async publish(service: string, partition: number, deliveries: PendingDelivery[]): Promise<void> {
    // a queue first used while Redis is away would wait for it inside BullMQ: refuse instead
    if (this.connection.status !== 'ready') throw new QueueUnavailableError(`Redis is not connected (${this.connection.status})`);
    const added = this.queue(hl7QueueName(service, partition)).addBulk(
      deliveries.map((d) => ({
        name: `${d.messageType}^${d.triggerEvent}`,
        data: {
          messageId: d.messageId,
          controlId: d.controlId,
          sendingFacility: d.sendingFacility,
          messageType: d.messageType,
          triggerEvent: d.triggerEvent,
          raw: d.raw.toString('latin1'),
          replay: d.replay,
        },
        opts: { jobId: jobIdOf(d) },
      })),
    );
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new QueueUnavailableError(`Redis did not answer within ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
    });
    try {
      await Promise.race([added, late]);
    } finally {
      clearTimeout(timer);
      added.catch(() => undefined);
    }
  }

  /**
   * Jobs per state in each queue of the given services' partitions (those seen so far
   * included): for metrics, one concurrent read per queue over the one connection.
   */
  async depths(services: string[], partitions: number): Promise<QueueDepth[]> {
    if (this.connection.status !== 'ready') return [];
    for (const s of services) for (let p = 0; p < partitions; p++) this.queue(hl7QueueName(s, p));
    return Promise.all(
      [...this.queues].map(async ([queue, q]) => {
        const c = await q.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'failed');
        return { queue, counts: { waiting: (c.waiting ?? 0) + (c.prioritized ?? 0), delayed: c.delayed ?? 0, active: c.active ?? 0, failed: c.failed ?? 0 } };
      }),
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close().catch(() => undefined)));
    this.connection.disconnect();
  }
}
