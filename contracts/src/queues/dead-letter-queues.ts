/**
 * Where a partitioned consumer puts what it gives up on: one dead-letter queue per partition
 * (`<queue>.dead`), whose jobs are kept and never processed, each with the job's data, the reason
 * and when it is safe to replay. The desk that lists, replays and discards them is
 * dead-letters.ts.
 */
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface DeadLetter<T> {
  queue: string;
  jobId: string;
  name: string;
  data: T;
  error: string;
  attempts: number;
  failedAt: string;
  /**
   * After this a replay may do harm: the consumer forgets what it deduplicates by (a CDC
   * consumer's tombstones of deleted rows), and a replayed change could bring such a row back.
   */
  replaySafeUntil?: string;
}

export const deadLetterQueueName = (queue: string) => `${queue}.dead`;

export class DeadLetterQueues<T> {
  private readonly queues = new Map<string, Queue<DeadLetter<T>>>();

  constructor(
    private readonly connection: Redis,
    private readonly log: Logger,
    /** how long after failing a letter can be replayed safely; unset: always */
    private readonly replaySafeForMs: number | undefined,
  ) {}

  /** the dead-letter queue of a partition queue */
  open(queue: string): void {
    const dead = new Queue<DeadLetter<T>>(deadLetterQueueName(queue), { connection: this.connection });
    // a lost connection is told by the workers; without a listener BullMQ prints each error raw
    dead.on('error', () => undefined);
    this.queues.set(queue, dead);
  }

  /** a whole job, under an id of its own job's, so that a retry writes it once */
  async add(job: Job<T>, queue: string, err: Error, attempts: number): Promise<void> {
    await this.put(queue, this.letter(queue, String(job.id), job.name, job.data, err, attempts));
    this.log.error({ queue, jobId: job.id, attempts, err: err.message.slice(0, 300) }, 'job dead-lettered; its partition moves on');
  }

  /**
   * A part of a job that its handler could not apply while it applied the rest (one row's
   * changes the database refuses among other rows'). `part` names the letter within the job (no
   * patient data: a position), so that a retry of the job writes it once.
   */
  async addPart(job: Job<T>, part: string, data: T, err: Error): Promise<void> {
    const queue = job.queueName;
    if (!this.queues.has(queue)) throw new Error(`${queue} is not a partition queue of this consumer`);
    await this.put(queue, this.letter(queue, `${String(job.id)}-${part}`, job.name, data, err, 1));
    this.log.error({ queue, jobId: job.id, part, err: err.message.slice(0, 300) }, 'part of a job dead-lettered; the rest applied, its partition moves on');
  }

  /** every partition's letters, newest first */
  async list(limit: number): Promise<DeadLetter<T>[]> {
    const all = await Promise.all([...this.queues.values()].map((q) => q.getJobs(['waiting'], 0, limit - 1)));
    return all
      .flat()
      .map((j) => j.data)
      .sort((a, b) => b.failedAt.localeCompare(a.failedAt))
      .slice(0, limit);
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }

  private letter(queue: string, jobId: string, name: string, data: T, err: Error, attempts: number): DeadLetter<T> {
    const now = Date.now();
    const letter: DeadLetter<T> = { queue, jobId, name, data, error: err.message.slice(0, 2_000), attempts, failedAt: new Date(now).toISOString() };
    if (this.replaySafeForMs !== undefined) letter.replaySafeUntil = new Date(now + this.replaySafeForMs).toISOString();
    return letter;
  }

  private async put(queue: string, letter: DeadLetter<T>): Promise<void> {
    await this.queues.get(queue)!.add(letter.name, letter, { jobId: `dead-${letter.jobId}`, removeOnComplete: false, removeOnFail: false });
  }
}
