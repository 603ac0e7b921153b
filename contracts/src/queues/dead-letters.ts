/**
 * The dead letters of the partitioned queues (`<queue>.dead`, written by PartitionedConsumer):
 * what an operator lists, replays or discards. A dead letter nobody can see is a lost message,
 * so the component that feeds a family of queues (the HL7 adapter `hl7.<service>`, the CDC
 * deployable `cdc.<topic>` and `writeback.<service>`) serves its families' dead letters.
 *
 * Replay puts the job back at the tail of its partition queue under a new id, then removes the
 * dead letter: a crash in between replays it twice, which the consumers' idempotency (control
 * id, source position) makes harmless; the other order could lose it. Listings carry a summary
 * without patient data (ids, types, positions), never the job's values.
 */
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { QueueDeadLetter, QueueDeadLetters } from '../api/ops-answers.js';
import { partitionQueueName } from '../events/partition.js';
import { deadLetterQueueName, type DeadLetter } from './partitioned-consumer.js';

export interface QueueFamily {
  /** the partition queues' name prefix (`hl7.patient-service`, `cdc.patients`) */
  prefix: string;
  partitions: number;
  /** a summary of a job's data for listings: identifiers, never patient values */
  describe: (data: unknown) => Record<string, unknown>;
}

export type DeadLetterEntry = QueueDeadLetter;
export type DeadLetterListing = QueueDeadLetters;

export class DeadLetterNotFoundError extends Error {
  override readonly name = 'DeadLetterNotFoundError';
}

/** A queue that is not a partition of a family this component serves. */
export class UnknownQueueError extends Error {
  override readonly name = 'UnknownQueueError';
}

/** A replay past the letter's safe time, without force. */
export class ReplayUnsafeError extends Error {
  override readonly name = 'ReplayUnsafeError';
}

export interface DeadLetterDeskOptions {
  connection: Redis;
  /** BullMQ's key prefix (its default: bull) */
  bullPrefix?: string;
  /** the families served: asked on every call, so that rules changed at runtime count */
  families: () => QueueFamily[];
  /** a call not done by then fails (BullMQ waits for a Redis that is down rather than failing); default 5 s */
  timeoutMs?: number;
}

/** Redis did not answer in time (down, or unreachable). */
export class QueuesUnavailableError extends Error {
  override readonly name = 'QueuesUnavailableError';
}

const unsafe = (letter: DeadLetter<unknown>, now: Date) => letter.replaySafeUntil !== undefined && now.getTime() > Date.parse(letter.replaySafeUntil);

export class DeadLetterDesk {
  private readonly queues = new Map<string, Queue>();
  private owned: Redis | undefined;

  constructor(private readonly o: DeadLetterDeskOptions) {}

  /**
   * A desk on a connection of its own that fails fast (one try per command): an admin API call
   * must answer "Redis is not there" rather than wait for it. Closed with the desk.
   */
  static open(redisUrl: string, o: Omit<DeadLetterDeskOptions, 'connection'>): DeadLetterDesk {
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(n * 200, 2_000) });
    connection.on('error', () => undefined); // each call fails and says so
    const desk = new DeadLetterDesk({ ...o, connection });
    desk.owned = connection;
    return desk;
  }

  private queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.o.connection, prefix: this.o.bullPrefix });
      q.on('error', () => undefined); // a call fails and says so; the connection reconnects
      this.queues.set(name, q);
    }
    return q;
  }

  private familyOf(queue: string): QueueFamily {
    for (const f of this.o.families()) {
      for (let p = 0; p < f.partitions; p++) if (partitionQueueName(f.prefix, p) === queue) return f;
    }
    throw new UnknownQueueError(`"${queue}" is not a partition queue of ${this.o.families().map((f) => `${f.prefix}.p0…p${f.partitions - 1}`).join(', ') || 'any family served here'}`);
  }

  private entry(f: QueueFamily, id: string, letter: DeadLetter<unknown>): DeadLetterEntry {
    return {
      queue: letter.queue,
      id,
      jobId: letter.jobId,
      error: letter.error,
      attempts: letter.attempts,
      failedAt: letter.failedAt,
      replaySafeUntil: letter.replaySafeUntil ?? null,
      summary: f.describe(letter.data),
    };
  }

  /** Dead letters, newest first, of one family (`prefix`) or of all. */
  list(opts: { prefix?: string; limit: number }): Promise<DeadLetterListing> {
    return this.bounded(this.listNow(opts));
  }

  /** How many dead letters each family (or the one named by `prefix`) holds, without reading them. */
  counts(prefix?: string): Promise<DeadLetterListing['counts']> {
    return this.bounded(this.countsNow(prefix));
  }

  /**
   * The ids of the dead letters every partition of the families (or of the one named by
   * `prefix`) holds: ids only, in one round trip. A listing of another kind (the HL7 adapter's
   * messages) marks what a service gave up on with it once per page, not once per row.
   */
  letterIds(prefix?: string): Promise<{ queue: string; id: string }[]> {
    return this.bounded(this.letterIdsNow(prefix));
  }

  /** These dead letters (`queue`: the partition queue), in one round trip; those no longer there are left out. */
  letters(wanted: { queue: string; id: string }[]): Promise<DeadLetterEntry[]> {
    return this.bounded(this.lettersNow(wanted));
  }

  private async letterIdsNow(prefix: string | undefined): Promise<{ queue: string; id: string }[]> {
    const queues = this.families(prefix).flatMap((f) => Array.from({ length: f.partitions }, (_, p) => partitionQueueName(f.prefix, p)));
    if (queues.length === 0) return [];
    const pipeline = this.o.connection.pipeline();
    for (const q of queues) pipeline.lrange(this.queue(deadLetterQueueName(q)).keys.wait!, 0, -1);
    const answers = (await pipeline.exec()) ?? [];
    return queues.flatMap((queue, i) => {
      const [err, ids] = answers[i] ?? [new Error('no answer')];
      if (err) throw err;
      return (ids as string[]).map((id) => ({ queue, id }));
    });
  }

  private async lettersNow(wanted: { queue: string; id: string }[]): Promise<DeadLetterEntry[]> {
    if (wanted.length === 0) return [];
    const pipeline = this.o.connection.pipeline();
    for (const w of wanted) pipeline.hget(this.queue(deadLetterQueueName(w.queue)).toKey(w.id), 'data');
    const answers = (await pipeline.exec()) ?? [];
    return wanted.flatMap((w, i) => {
      const [err, data] = answers[i] ?? [new Error('no answer')];
      if (err) throw err;
      return typeof data === 'string' ? [this.entry(this.familyOf(w.queue), w.id, JSON.parse(data) as DeadLetter<unknown>)] : [];
    });
  }

  private deadQueues(f: QueueFamily): Queue[] {
    return Array.from({ length: f.partitions }, (_, p) => this.queue(deadLetterQueueName(partitionQueueName(f.prefix, p))));
  }

  private families(prefix: string | undefined): QueueFamily[] {
    return this.o.families().filter((f) => prefix === undefined || f.prefix === prefix);
  }

  private async countsNow(prefix: string | undefined): Promise<DeadLetterListing['counts']> {
    return Promise.all(
      this.families(prefix).map(async (f) => {
        const n = await Promise.all(this.deadQueues(f).map((q) => q.getWaitingCount()));
        return { prefix: f.prefix, count: n.reduce((a, b) => a + b, 0) };
      }),
    );
  }

  private async listNow(opts: { prefix?: string; limit: number }): Promise<DeadLetterListing> {
    const families = this.families(opts.prefix);
    const letters: DeadLetterEntry[] = [];
    const [counts] = await Promise.all([
      this.countsNow(opts.prefix),
      Promise.all(
        families.map(async (f) => {
          const jobs = await Promise.all(this.deadQueues(f).map((q) => q.getJobs(['waiting'], 0, opts.limit - 1)));
          for (const j of jobs.flat()) if (j) letters.push(this.entry(f, String(j.id), j.data as DeadLetter<unknown>));
        }),
      ),
    ]);
    letters.sort((a, b) => b.failedAt.localeCompare(a.failedAt) || a.queue.localeCompare(b.queue));
    return { counts, deadLetters: letters.slice(0, opts.limit) };
  }

  private async find(queue: string, id: string) {
    const f = this.familyOf(queue);
    const job = await this.queue(deadLetterQueueName(queue)).getJob(id);
    if (!job) throw new DeadLetterNotFoundError(`no dead letter "${id}" of ${queue} (replayed or discarded already?)`);
    const letter = job.data as DeadLetter<unknown>;
    return { f, job, letter, entry: this.entry(f, id, letter) };
  }

  /** Puts the job back at the tail of its partition queue; answers the letter and the new job's id. */
  replay(queue: string, id: string, opts: { force?: boolean; now?: Date } = {}): Promise<{ letter: DeadLetterEntry; replayedAs: string }> {
    return this.bounded(this.replayNow(queue, id, opts));
  }

  private async replayNow(queue: string, id: string, opts: { force?: boolean; now?: Date }): Promise<{ letter: DeadLetterEntry; replayedAs: string }> {
    const { job, letter, entry } = await this.find(queue, id);
    const now = opts.now ?? new Date();
    if (unsafe(letter, now) && !opts.force) {
      throw new ReplayUnsafeError(
        `this dead letter is older than the consumer's deduplication state (safe until ${letter.replaySafeUntil}): a row deleted since may come back. ` +
          'Re-snapshot the table, or replay with force after checking its rows in the source',
      );
    }
    return { letter: entry, replayedAs: await this.putBack(queue, job, letter, now) };
  }

  /**
   * Replays a family's dead letters (at most `max`), each partition's in the order they failed,
   * so that one patient's or row's replayed jobs keep their order. Letters past their safe time
   * are left in place unless forced, and counted.
   */
  replayAll(prefix: string, opts: { max: number; force?: boolean; now?: Date }): Promise<{ replayed: number; leftUnsafe: number; remaining: number }> {
    // a long family may take a while: the bound is per partition's worth of work, roughly
    return this.bounded(this.replayAllNow(prefix, opts), (this.o.timeoutMs ?? 5_000) * 6);
  }

  private async replayAllNow(prefix: string, opts: { max: number; force?: boolean; now?: Date }): Promise<{ replayed: number; leftUnsafe: number; remaining: number }> {
    const f = this.o.families().find((x) => x.prefix === prefix);
    if (!f) throw new UnknownQueueError(`"${prefix}" is not a queue family served here (${this.o.families().map((x) => x.prefix).join(', ') || 'none'})`);
    const now = opts.now ?? new Date();
    let replayed = 0;
    let leftUnsafe = 0;
    let remaining = 0;
    for (let p = 0; p < f.partitions; p++) {
      const queue = partitionQueueName(f.prefix, p);
      const dead = this.queue(deadLetterQueueName(queue));
      const jobs = (await dead.getJobs(['waiting'], 0, -1)).filter((j): j is NonNullable<typeof j> => Boolean(j));
      jobs.sort((a, b) => (a.data as DeadLetter<unknown>).failedAt.localeCompare((b.data as DeadLetter<unknown>).failedAt) || a.timestamp - b.timestamp);
      for (const job of jobs) {
        const letter = job.data as DeadLetter<unknown>;
        if (replayed >= opts.max) remaining++;
        else if (unsafe(letter, now) && !opts.force) leftUnsafe++;
        else {
          await this.putBack(queue, job, letter, now);
          replayed++;
        }
      }
    }
    return { replayed, leftUnsafe, remaining };
  }

  private async putBack(queue: string, job: Job, letter: DeadLetter<unknown>, now: Date): Promise<string> {
    // a new id: BullMQ ignores an add whose id a kept job already has
    const replayedAs = `${letter.jobId}-replayed-${now.getTime()}`;
    await this.queue(queue).add(job.name, letter.data, { jobId: replayedAs, removeOnComplete: { count: 1_000 }, removeOnFail: false });
    await job.remove();
    return replayedAs;
  }

  /** Removes a dead letter an operator has settled otherwise (by hand, by a re-snapshot); answers it. */
  discard(queue: string, id: string): Promise<DeadLetterEntry> {
    return this.bounded(
      (async () => {
        const { job, entry } = await this.find(queue, id);
        await job.remove();
        return entry;
      })(),
    );
  }

  private bounded<T>(work: Promise<T>, ms = this.o.timeoutMs ?? 5_000): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new QueuesUnavailableError(`Redis did not answer within ${ms} ms`)), ms);
    });
    work.catch(() => undefined); // a call given up on may still fail later: nobody waits for it
    return Promise.race([work, late]).finally(() => clearTimeout(timer));
  }

  async close(): Promise<void> {
    // with Redis away, closing a queue waits for it: a shutdown does not
    await this.bounded(Promise.all([...this.queues.values()].map((q) => q.close()))).catch(() => undefined);
    this.owned?.disconnect();
  }
}
