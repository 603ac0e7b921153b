/**
 * Queue depth and dead letters as gauges read at scrape time: the jobs waiting in each
 * consumed queue family (hl7.<service>, cdc.<topic>) and those in their dead-letter queues,
 * which stay until an operator looks at them.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { partitionQueueName } from '@ficus/contracts';
import { deadLetterQueueName } from '@ficus/contracts/queues';
import type { ServiceMetrics } from './service-metrics.js';

export interface QueueFamily {
  /** hl7 or cdc */
  channel: string;
  /** the queue name prefix, `hl7.patient-service` or `cdc.patients` */
  prefix: string;
  partitions: number;
}

export class QueueGauges {
  private readonly queues: { family: QueueFamily; queue: Queue; dead: Queue }[] = [];

  constructor(connection: Redis, families: QueueFamily[], metrics: ServiceMetrics) {
    for (const family of families) {
      for (let p = 0; p < family.partitions; p++) {
        const name = partitionQueueName(family.prefix, p);
        const queue = new Queue(name, { connection });
        const dead = new Queue(deadLetterQueueName(name), { connection });
        // read for gauges only: a failed read shows at the scrape; without a listener BullMQ prints each error raw
        for (const q of [queue, dead]) q.on('error', () => undefined);
        this.queues.push({ family, queue, dead });
      }
    }
    const sum = async (pick: (q: (typeof this.queues)[number]) => Queue) => {
      const totals = new Map<string, { channel: string; prefix: string; n: number }>();
      await Promise.all(
        this.queues.map(async (q) => {
          const n = await pick(q).getWaitingCount();
          const t = totals.get(q.family.prefix) ?? { channel: q.family.channel, prefix: q.family.prefix, n: 0 };
          t.n += n;
          totals.set(q.family.prefix, t);
        }),
      );
      return [...totals.values()].map((t) => ({ labels: { channel: t.channel, queue: t.prefix }, value: t.n }));
    };
    metrics.gauge('ficus_service_queue_waiting', 'Jobs waiting in the queues this service consumes, per queue family', ['channel', 'queue'], () => sum((q) => q.queue));
    metrics.gauge('ficus_service_dead_letters', 'Jobs in the dead-letter queues (refused HL7 messages, change batches that kept failing), per queue family', ['channel', 'queue'], () => sum((q) => q.dead));
  }

  async close(): Promise<void> {
    await Promise.all(this.queues.flatMap((q) => [q.queue.close(), q.dead.close()]));
  }
}
