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
import { deadLetterQueueName, type DeadLetter } from '@ficus/contracts/queues';
import { serviceAnswer, type ServiceAnswer } from './service-answers.js';

export function jobIdOf(d: Pick<PendingDelivery, 'replay' | 'id' | 'messageId'>): string {
  return d.replay ? `replay-${d.id}` : `message-${d.messageId}`;
}

export class QueueUnavailableError extends Error {}

/** the job states in which a service has not finished with a job (it waits, runs, or is tried again) */
const UNFINISHED = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

export interface QueuePublisherOptions {
  redisUrl: string;
  /** BullMQ's key prefix (its default: bull) */
  prefix: string;
  /** a publish not answered within this is a failure (tried again later; BullMQ drops the duplicate if both land) */
  timeoutMs: number;
}

export class QueuePublisher {
  private readonly queues = new Map<string, Queue<Hl7Job>>();
  /** the services' dead-letter queues, read to learn why a service gave a job up */
  private readonly deadQueues = new Map<string, Queue<DeadLetter<Hl7Job>>>();
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
    this.ready();
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
          // the service writes back what it applies only when the legacy does not get the message itself
          legacyToo: d.legacyToo,
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

  /** Refuses at once while Redis is away: BullMQ would wait for it. */
  private ready(): void {
    if (this.connection.status !== 'ready') throw new QueueUnavailableError(`Redis is not connected (${this.connection.status})`);
  }

  /**
   * Whether the service still has jobs to finish in any of these partitions (waiting, running,
   * or being tried again): a message involving their patients waits until it has none.
   */
  async unfinished(service: string, partitions: readonly number[]): Promise<boolean> {
    this.ready();
    const counts = await Promise.all(partitions.map((p) => this.queue(hl7QueueName(service, p)).getJobCounts(...UNFINISHED)));
    return counts.some((c) => Object.values(c).some((n) => n > 0));
  }

  /**
   * What the service made of a job: undefined while it has not finished with it; else AA (it
   * applied it, or found it applied or stale: all taken), or AE/AR with the reason it gave up
   * on it (its dead letter's). A job BullMQ no longer holds (completed jobs are removed after
   * 7 days) and that is not among the dead letters was taken.
   */
  async outcome(service: string, partition: number, jobId: string): Promise<ServiceAnswer | undefined> {
    this.ready();
    const name = hl7QueueName(service, partition);
    const q = this.queue(name);
    const state = await q.getJobState(jobId);
    if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return undefined;
    // the consumer writes the dead letter before it completes the job: it is there when the job is done
    const letter = await this.deadQueue(name).getJob(`dead-${jobId}`);
    if (letter) return serviceAnswer(letter.data.error);
    if (state !== 'failed') return { code: 'AA' };
    // failed by BullMQ itself (a worker that lost its lock too often): the service did not apply it
    const job = await q.getJob(jobId);
    return serviceAnswer(`the service's queue failed the job: ${job?.failedReason ?? 'no reason given'}`);
  }

  private deadQueue(name: string): Queue<DeadLetter<Hl7Job>> {
    let q = this.deadQueues.get(name);
    if (!q) {
      q = new Queue<DeadLetter<Hl7Job>>(deadLetterQueueName(name), { connection: this.connection, prefix: this.o.prefix });
      q.on('error', () => undefined);
      this.deadQueues.set(name, q);
    }
    return q;
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
    await Promise.all([...this.queues.values(), ...this.deadQueues.values()].map((q) => q.close().catch(() => undefined)));
    this.connection.disconnect();
  }
}
