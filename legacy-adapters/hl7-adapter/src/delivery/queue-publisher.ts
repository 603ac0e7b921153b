/**
 * Messages for the new services go to BullMQ queues, one per service and partition
 * (`hl7.patient-service.p3`): a consumer with one worker per partition queue sees each
 * patient's messages in order. A job's id is derived from the message (or from the replay),
 * so publishing again after a crash adds nothing: BullMQ keeps one job per id.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { PendingDelivery } from './delivery-store.js';

export interface Hl7Job {
  messageId: number;
  controlId: string;
  sendingFacility: string;
  messageType: string;
  triggerEvent: string;
  /** the message's bytes as received, as a latin1 string (lossless): Buffer.from(raw, 'latin1') gives them back */
  raw: string;
  replay: boolean;
}

export function queueName(service: string, partition: number): string {
  return `hl7.${service}.p${partition}`;
}

export function jobIdOf(d: PendingDelivery): string {
  return d.replay ? `replay-${d.id}` : `message-${d.messageId}`;
}

export class QueuePublisher {
  private readonly queues = new Map<string, Queue<Hl7Job>>();

  constructor(private readonly connection: Redis) {}

  private queue(name: string): Queue<Hl7Job> {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue<Hl7Job>(name, {
        connection: this.connection,
        defaultJobOptions: {
          attempts: 10,
          backoff: { type: 'exponential', delay: 1_000 },
          // kept long enough for a resend to be recognised, then cleaned up
          removeOnComplete: { age: 7 * 24 * 3600, count: 1_000_000 },
          removeOnFail: false,
        },
      });
      this.queues.set(name, q);
    }
    return q;
  }

  /** Adds the deliveries of one lane, in order, in one round trip. */
  async publish(service: string, partition: number, deliveries: PendingDelivery[]): Promise<void> {
    await this.queue(queueName(service, partition)).addBulk(
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
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
