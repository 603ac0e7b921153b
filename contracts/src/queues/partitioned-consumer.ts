/**
 * Consumes partitioned BullMQ queues (`<prefix>.p0 … p<n-1>`) so that each partition is worked
 * strictly in order, one job at a time, across every instance of the consuming service: a
 * patient's events (one partition) never overtake each other, different patients go side by
 * side.
 *
 * Why retries are done here and not by BullMQ: a job that BullMQ retries goes to its delayed
 * set, and the next job of the partition runs meanwhile, out of order. Here a failing job is
 * tried again in place, holding its partition, with backoff; when the tries are used up (or the
 * error is one no retry can mend) it goes to the partition's dead-letter queue
 * (`<queue>.dead`, kept, never processed) with the reason, and the partition moves on. A
 * job that cannot be applied *yet* (NotYetError: what it names is still on its way) is tried
 * again the same way, without using up its tries: its handler decides when to give up. A
 * shutdown during the backoff puts the job back at the head of its queue, untried.
 */
import { Queue, WaitingError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { partitionQueueName } from '../events/partition.js';
import { DeadLetterQueues, type DeadLetter } from './dead-letter-queues.js';

export { deadLetterQueueName, type DeadLetter } from './dead-letter-queues.js';

export interface RetryPolicy {
  /** tries in all, the first included */
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export interface PartitionedConsumerOptions<T> {
  /** an ioredis connection made with `maxRetriesPerRequest: null` (BullMQ's workers need it) */
  connection: Redis;
  prefix: string;
  /** must be the producer's partition count; a queue beyond it is refused at start */
  partitions: number;
  handle: (job: Job<T>, partition: number) => Promise<void>;
  retry?: Partial<RetryPolicy>;
  /** an error that no retry can mend (bad data, an unknown version): dead-lettered at once */
  permanent?: (err: Error) => boolean;
  /** told of every outcome (metrics) */
  outcome?: (outcome: 'done' | 'retried' | 'dead', partition: number) => void;
  /**
   * told before a whole job becomes a dead letter (what it carried will not be applied). An
   * error here keeps the job: it is tried again in place after the longest pause, its partition
   * holding, because what the hook notes may be what makes letting the job go safe (a CDC
   * consumer's snapshot rows, which a snapshot end would otherwise withdraw)
   */
  deadLettering?: (job: Job<T>, partition: number) => Promise<void>;
  /** how long after failing a dead letter can be replayed safely (the consumer's deduplication state lasts that long); unset: always */
  replaySafeForMs?: number;
  /** how long a worker's hold on its job lasts unrenewed (BullMQ renews it while the job runs); 60 s by default */
  lockDurationMs?: number;
  /** how often the workers look for jobs whose worker stopped under them (BullMQ's stalled check); 30 s by default */
  stalledIntervalMs?: number;
  /**
   * how often failed jobs (BullMQ's failed list) are looked for again and moved to the dead
   * letters: those a rescue could not move when they failed (Redis or the note away then); 60 s
   * by default
   */
  rescueIntervalMs?: number;
  log: Logger;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 8, baseMs: 500, maxMs: 30_000 };

/** An error marked as one no retry can mend. */
export class PermanentError extends Error {
  override readonly name = 'PermanentError';
}

/**
 * A job that cannot be applied yet but may be soon: what it names has not arrived (a patient
 * whose registration is still on its way through another queue or the CDC). Tried again in
 * place, holding its partition, every few seconds at most; these tries are not counted against
 * the retry policy's attempts, so the handler must bound the wait (and throw a PermanentError
 * when it is over).
 */
export class NotYetError extends Error {
  override readonly name = 'NotYetError';
}

/** the longest pause between two tries of a job that is not applicable yet */
const NOT_YET_MAX_PAUSE_MS = 5_000;

/**
 * A job whose worker stopped under it (killed, out of memory, crashed, or blocked past its lock)
 * is "stalled": BullMQ hands it back at the head of its partition and it is tried again, since
 * one stop is usually the process's, not the job's. A job that stops its worker every time would
 * crash-loop its service for ever, its partition held; after this many stops it becomes a dead
 * letter, as a permanent failure does. BullMQ's own limit is never reached (see the workers'
 * maxStalledCount): it fails the job outside our processor, so no dead letter, no deadLettering
 * note, and the job is lost.
 */
export const STALLS_BEFORE_DEAD_LETTER = 3;

/** failed jobs per partition moved to the dead letters in one sweep (more: at the next sweep) */
const RESCUE_AT_START = 10_000;

export class PartitionedConsumer<T> {
  private readonly workers: Worker<T>[] = [];
  private readonly queues: Queue[] = [];
  private readonly dead: DeadLetterQueues<T>;
  private readonly retry: RetryPolicy;
  private closing = false;
  private readonly wakeOnClose = new Set<() => void>();
  private rescueTimer: NodeJS.Timeout | undefined;
  private rescuing: Promise<void> | undefined;
  private readonly inRescue = new Set<string>();

  private constructor(private readonly o: PartitionedConsumerOptions<T>) {
    this.retry = { ...DEFAULT_RETRY, ...o.retry };
    this.dead = new DeadLetterQueues<T>(o.connection, o.log, o.replaySafeForMs);
  }

  static async start<T>(o: PartitionedConsumerOptions<T>): Promise<PartitionedConsumer<T>> {
    const c = new PartitionedConsumer(o);
    await c.checkPartitions();
    for (let p = 0; p < o.partitions; p++) {
      const name = partitionQueueName(o.prefix, p);
      // one job at a time for this partition, whatever the number of instances
      const queue = new Queue(name, { connection: o.connection });
      // a lost connection is told by the workers (a structured warning); without a listener BullMQ prints each error raw
      queue.on('error', () => undefined);
      await queue.setGlobalConcurrency(1);
      c.queues.push(queue);
      c.dead.open(name);
      c.workers.push(
        new Worker<T>(name, (job, token) => c.process(job, token, p, name), {
          connection: o.connection,
          concurrency: 1,
          // a job held by in-place retries keeps its lock; BullMQ renews it while it runs
          lockDuration: o.lockDurationMs ?? 60_000,
          stalledInterval: o.stalledIntervalMs ?? 30_000,
          // stalls are counted and dead-lettered by process() (STALLS_BEFORE_DEAD_LETTER)
          maxStalledCount: Number.MAX_SAFE_INTEGER,
        }),
      );
    }
    // a job BullMQ fails itself never reached process(), which dead-letters instead of failing
    for (const [p, w] of c.workers.entries()) {
      w.on('failed', (job) => {
        if (job) void c.rescue(job, p, w.name);
      });
    }
    await c.rescueFailed();
    c.rescueTimer = setInterval(() => {
      if (c.closing || c.rescuing) return;
      c.rescuing = c
        .rescueFailed()
        .catch((e: Error) => o.log.warn({ prefix: o.prefix, err: e.message }, 'could not look for failed jobs; looked for again later'))
        .finally(() => (c.rescuing = undefined));
    }, o.rescueIntervalMs ?? 60_000);
    c.rescueTimer.unref();
    // with Redis away every worker reports every reconnect attempt: one line per consumer every 10 s says it
    let lastLogged = 0;
    let unlogged = 0;
    for (const w of c.workers) {
      w.on('error', (err) => {
        const now = Date.now();
        if (now - lastLogged < 10_000) {
          unlogged++;
          return;
        }
        o.log.warn({ err: err.message, queue: w.name, ...(unlogged ? { moreErrors: unlogged } : {}) }, 'queue worker error; it reconnects');
        lastLogged = now;
        unlogged = 0;
      });
    }
    return c;
  }

  /** A producer with more partitions than this consumer would leave queues unread: refuse. */
  private async checkPartitions(): Promise<void> {
    const beyond = new Set<number>();
    const pattern = `bull:${this.o.prefix}.p*:meta`;
    let cursor = '0';
    do {
      const [next, keys] = await this.o.connection.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      for (const k of keys) {
        const n = Number(/\.p(\d+):meta$/.exec(k)?.[1]);
        if (Number.isInteger(n) && n >= this.o.partitions) beyond.add(n);
      }
    } while (cursor !== '0');
    if (beyond.size > 0) {
      throw new Error(
        `queues ${this.o.prefix}.p${[...beyond].sort((a, b) => a - b).join(', p')} exist but this consumer reads only ${this.o.partitions} partitions: ` +
          'set the partition count to the producer\'s',
      );
    }
  }

  private async process(job: Job<T>, token: string | undefined, partition: number, queue: string): Promise<void> {
    const stalls = job.stalledCounter;
    if (stalls >= STALLS_BEFORE_DEAD_LETTER) return this.deadLetterStalled(job, token, partition, queue, stalls);
    if (stalls > 0) this.o.log.warn({ queue, jobId: job.id, stalls }, 'job taken again: its worker stopped while processing it');
    for (let attempt = 1, waits = 0; ; ) {
      try {
        await this.o.handle(job, partition);
        this.o.outcome?.('done', partition);
        return;
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        let delay: number;
        if (err instanceof NotYetError) {
          waits++;
          delay = Math.min(this.retry.maxMs, NOT_YET_MAX_PAUSE_MS, this.retry.baseMs * 2 ** (waits - 1));
        } else {
          const permanent = err instanceof PermanentError || this.o.permanent?.(err) === true;
          if (permanent || attempt >= this.retry.attempts) {
            if (await this.noted(job, partition, queue)) {
              await this.dead.add(job, queue, err, attempt + waits);
              this.o.outcome?.('dead', partition);
              return;
            }
            // not noted: the job stays; tried again (the handler first, it may go through now)
            delay = this.retry.maxMs;
          } else {
            if (attempt === 1 || attempt % 5 === 0) this.o.log.warn({ queue, jobId: job.id, attempt, err: err.message }, 'job failed; trying again, its partition waits');
            delay = Math.min(this.retry.maxMs, this.retry.baseMs * 2 ** (attempt - 1));
            attempt++;
          }
        }
        this.o.outcome?.('retried', partition);
        if (!(await this.sleepUnlessClosing(delay))) {
          // shutting down: hand the job back, at the head of its queue, for the next worker
          await job.moveToWait(token);
          throw new WaitingError();
        }
      }
    }
  }

  /** not run again: it may stop this worker too. Noted first, as any job becoming a dead letter */
  private async deadLetterStalled(job: Job<T>, token: string | undefined, partition: number, queue: string, stalls: number): Promise<void> {
    while (!(await this.noted(job, partition, queue))) {
      this.o.outcome?.('retried', partition);
      if (!(await this.sleepUnlessClosing(this.retry.maxMs))) {
        await job.moveToWait(token);
        throw new WaitingError();
      }
    }
    const reason = `the worker stopped ${stalls} times while processing this job (a crash, a kill, or the process blocked past its lock); it was not applied`;
    await this.dead.add(job, queue, new Error(reason), stalls);
    this.o.outcome?.('dead', partition);
  }

  /**
   * Jobs BullMQ failed on its own, outside process(): those an older version let BullMQ fail at
   * their second stall ("job stalled more than allowable limit"), and those it marked so and a
   * worker then took. Neither was applied, and a failed job is in no list a person reads: each
   * goes to the dead letters, noted first, where it can be seen and replayed. Done at start and
   * every rescueIntervalMs: a job whose rescue failed when it failed (its note, or Redis, away)
   * stays failed only until the next sweep, not until the service restarts.
   */
  private async rescueFailed(): Promise<void> {
    for (const [p, queue] of this.queues.entries()) {
      const failed = await queue.getJobs(['failed'], 0, RESCUE_AT_START - 1);
      let rescued = 0;
      for (const job of failed) {
        // moved meanwhile by the 'failed' event's rescue (or another instance's sweep)
        if ((await job.getState()) !== 'failed') continue;
        if (await this.rescue(job, p, queue.name)) rescued++;
      }
      if (rescued > 0) this.o.log.warn({ queue: queue.name, rescued }, 'jobs the queue library had failed outside this consumer (never applied) moved to the dead letters');
    }
  }

  private async rescue(job: Job<T>, partition: number, queue: string): Promise<boolean> {
    // the 'failed' event and a sweep may find the same job
    const key = `${queue}/${job.id}`;
    if (this.inRescue.has(key)) return false;
    this.inRescue.add(key);
    try {
      if (!(await this.noted(job, partition, queue))) return false;
      const why = job.failedReason ? `: ${job.failedReason}` : '';
      await this.dead.add(job, queue, new Error(`failed by the queue library outside the consumer${why}; it was not applied`), Math.max(job.attemptsMade, job.stalledCounter, 1));
      this.o.outcome?.('dead', partition);
      await job.remove();
      return true;
    } catch (e) {
      this.o.log.error({ queue, jobId: job.id, err: (e as Error).message }, 'could not move a job the queue library failed to the dead letters; it stays failed until the next sweep');
      return false;
    } finally {
      this.inRescue.delete(key);
    }
  }

  /** the deadLettering hook has run (or there is none); its failure is logged and answers false */
  private async noted(job: Job<T>, partition: number, queue: string): Promise<boolean> {
    try {
      await this.o.deadLettering?.(job, partition);
      return true;
    } catch (h) {
      this.o.log.error({ queue, jobId: job.id, err: (h as Error).message }, 'could not note a job about to be dead-lettered; it is kept and tried again, its partition waits');
      return false;
    }
  }

  /**
   * Dead-letters a part of a job that its handler could not apply while it applied the rest
   * (one row's changes the database refuses among other rows'). `part` names the letter
   * within the job (no patient data: a position), so that a retry of the job writes it once.
   */
  async deadLetterPart(job: Job<T>, part: string, data: T, err: Error): Promise<void> {
    await this.dead.addPart(job, part, data, err);
  }

  private sleepUnlessClosing(ms: number): Promise<boolean> {
    if (this.closing) return Promise.resolve(false);
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wakeOnClose.delete(wake);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.wakeOnClose.delete(wake);
        resolve(true);
      }, ms);
      this.wakeOnClose.add(wake);
    });
  }

  /** Dead letters of every partition, newest first. */
  deadLetters(limit = 100): Promise<DeadLetter<T>[]> {
    return this.dead.list(limit);
  }

  /** Jobs waiting, per partition (a gauge for metrics and readiness). */
  async depth(): Promise<number[]> {
    return Promise.all(this.queues.map((q) => q.getWaitingCount()));
  }

  /** Stops taking jobs; the jobs being worked finish (or, waiting for a retry, go back). */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.rescueTimer);
    for (const wake of [...this.wakeOnClose]) wake();
    await this.rescuing;
    await Promise.all(this.workers.map((w) => w.close()));
    await Promise.all([...this.queues.map((q) => q.close()), this.dead.close()]);
  }
}
