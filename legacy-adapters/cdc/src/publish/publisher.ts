/**
 * Puts change events on the topics' partition queues (`cdc.<topic>.p<n>`, partition by the
 * row's key, so one row's changes stay in order), many events per job, and says which source
 * positions are durably enqueued, so the source acknowledges only those.
 *
 * One flush at a time: while one is in Redis, the next one's events gather, so batches grow
 * with the load by themselves. A flush that fails is tried again, whole and in order, until it
 * succeeds; meanwhile events keep gathering up to the high-water mark, where the source stops
 * reading (`pressure`).
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { CHANGE_EVENT_SCHEMA_VERSION, keyText, partitionOf, partitionQueueName, type ChangeBatch, type ChangeEvent } from '@ficus/contracts';
import type { Logger } from '@ficus/contracts';
import { cdcQueuePrefix } from '@ficus/contracts/queues';
import { addKeyMoves, DEFAULT_KEY_MOVE_TTL_MS } from './key-moves.js';

/** the point up to which a source may acknowledge once what came before it is enqueued */
export interface Boundary {
  /** an opaque, source-defined ack token (PostgreSQL: the commit's end LSN) */
  ack: bigint;
  commitTimeMs: number | null;
  position: string | null;
}

export interface PublisherOptions {
  connection: Redis;
  partitions: number;
  /** most events in one job */
  maxEventsPerJob: number;
  /** events held (gathering and in flight) above which the source is told to stop reading */
  highWater: number;
  log: Logger;
  /** after each flush: the last boundary it covered, the events it enqueued per topic, and the boundaries' commit times */
  flushed: (r: { boundary: Boundary | undefined; perTopic: Map<string, number>; commitTimesMs: number[]; enqueuedAtMs: number }) => void;
  /** how long a first event waits for company before a flush starts (ms) */
  lingerMs?: number;
  /** the topics fed: a heartbeat goes to every partition of each */
  topics?: readonly string[];
  /** the source's name, in heartbeats */
  source?: string;
  /** how long a key change read is kept for the legacy writer (ms; null: for ever; default 30 days and 5 min: key-moves.ts) */
  keyMoveTtlMs?: number | null;
}

type Job = { name: string; data: ChangeBatch; opts?: { removeOnComplete: boolean } };

/** Since when change events wait for Redis, and why (GET /readyz and /api/cdc/status say it). */
export interface EnqueueWait {
  waitingSince: string;
  reason: string;
}

/**
 * A flush Redis has not taken after this long is said in the log, and every six times as long:
 * the connection retries for ever (maxRetriesPerRequest null), so an enqueue during an outage
 * waits instead of failing, and nothing else would say why the changes stopped.
 */
export const SLOW_FLUSH_WARN_MS = 5_000;

export class Publisher {
  private readonly queues = new Map<string, Queue<ChangeBatch>>();
  private buffers = new Map<string, ChangeEvent[]>();
  private boundary: Boundary | undefined;
  private commitTimes: number[] = [];
  /** a heartbeat to enqueue behind the events gathered so far (ms), if any */
  private heartbeatAt: number | undefined;
  /** the latest heartbeat time taken: one not later says nothing new */
  private lastHeartbeatAt = -Infinity;
  /** snapshot ends to enqueue behind the events gathered so far, in the order given */
  private snapshotEnds: { topic: string; position: string }[] = [];
  private gathered = 0;
  private inFlight = 0;
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly waiters: (() => void)[] = [];
  private readonly drainWaiters: (() => void)[] = [];
  failing: string | undefined;
  /** when the flush that has waited SLOW_FLUSH_WARN_MS for Redis began; undefined while Redis takes them */
  private waitingSince: number | undefined;

  constructor(private readonly o: PublisherOptions) {}

  /** events held in memory: gathered and in flight */
  get held(): number {
    return this.gathered + this.inFlight;
  }

  /**
   * Enqueueing has stopped: a flush Redis has not taken after SLOW_FLUSH_WARN_MS (the time the
   * log says it), since the flush began; undefined again once Redis takes it. The source streams
   * on into memory meanwhile, so its own state does not show it.
   */
  get enqueueWait(): EnqueueWait | undefined {
    if (this.waitingSince === undefined) return undefined;
    return { waitingSince: new Date(this.waitingSince).toISOString(), reason: this.failing ?? 'Redis has not taken the change events' };
  }

  get pressure(): boolean {
    return this.held >= this.o.highWater;
  }

  add(event: ChangeEvent): void {
    const partition = partitionOf(keyText(event.key), this.o.partitions);
    const queue = partitionQueueName(cdcQueuePrefix(event.topic), partition);
    let buf = this.buffers.get(queue);
    if (!buf) this.buffers.set(queue, (buf = []));
    buf.push(event);
    this.gathered++;
    this.schedule();
  }

  /** Everything added so far ends a transaction: once enqueued, `ack` may be acknowledged. */
  commit(b: Boundary): void {
    this.boundary = b;
    if (b.commitTimeMs !== null) this.commitTimes.push(b.commitTimeMs);
    this.schedule();
  }

  /**
   * Every change the source committed before `atMs` has been added: a heartbeat saying so goes
   * to every partition queue of every topic, behind the events gathered so far (one flush keeps
   * each queue's order), so a consumer that reaches it has applied them all.
   */
  heartbeat(atMs: number): void {
    if (!this.o.topics?.length) return;
    if (atMs <= this.lastHeartbeatAt) return;
    this.lastHeartbeatAt = atMs;
    this.heartbeatAt = atMs;
    this.schedule();
  }

  /**
   * Every row of `topic` as of `position` has been added (as `snapshot` events): a marker saying
   * so goes to every partition queue of the topic, behind those events (one flush keeps each
   * queue's order), so a consumer that has reached it on every partition has the whole snapshot.
   */
  snapshotEnd(topic: string, position: string): void {
    this.snapshotEnds.push({ topic, position });
    this.schedule();
  }

  /** Resolves when fewer than half the high-water mark are held. */
  async belowLowWater(): Promise<void> {
    while (this.held >= this.o.highWater / 2 && !this.closed) await new Promise<void>((r) => this.waiters.push(r));
  }

  /** Resolves when everything added so far is enqueued. */
  async drain(): Promise<void> {
    while ((this.held > 0 || this.boundary || this.flushing || this.snapshotEnds.length > 0) && !this.closed) {
      this.schedule();
      await new Promise<void>((r) => this.drainWaiters.push(r));
    }
  }

  private schedule(): void {
    if (this.flushing || this.closed) return;
    if (this.gathered === 0 && !this.boundary && this.heartbeatAt === undefined && this.snapshotEnds.length === 0) return;
    // a full job's worth for every partition goes at once; less waits for company, up to the linger
    if (this.gathered >= this.o.maxEventsPerJob * this.o.partitions) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.startFlush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.startFlush();
    }, this.o.lingerMs ?? 20);
  }

  private startFlush(): void {
    if (this.flushing || this.closed) return;
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined;
      this.wake();
      this.schedule();
    });
  }

  private wake(): void {
    if (this.held < this.o.highWater / 2) for (const w of this.waiters.splice(0)) w();
    if (this.held === 0 && !this.boundary && this.snapshotEnds.length === 0) for (const w of this.drainWaiters.splice(0)) w();
  }

  private async flush(): Promise<void> {
    const buffers = this.buffers;
    const boundary = this.boundary;
    const commitTimes = this.commitTimes;
    const count = this.gathered;
    const heartbeatAt = this.heartbeatAt;
    this.heartbeatAt = undefined;
    const snapshotEnds = this.snapshotEnds;
    this.snapshotEnds = [];
    this.buffers = new Map();
    this.boundary = undefined;
    this.commitTimes = [];
    this.gathered = 0;
    this.inFlight += count;
    const perTopic = new Map<string, number>();
    for (const events of buffers.values()) {
      const topic = events[0]!.topic;
      perTopic.set(topic, (perTopic.get(topic) ?? 0) + events.length);
    }
    const jobs = new Map([...buffers].map(([queue, events]) => [queue, this.jobs(events)]));
    for (const end of snapshotEnds) this.addSnapshotEnd(jobs, end.topic, end.position);
    if (heartbeatAt !== undefined) this.addHeartbeats(jobs, heartbeatAt);
    const startedAt = Date.now();
    let ticks = 0;
    const slow = setInterval(() => {
      this.failing ??= `Redis has not taken the change events (connection ${this.o.connection.status})`;
      this.waitingSince ??= startedAt;
      if (++ticks % 6 !== 1) return; // after 5 s, then every 30 s
      this.o.log.warn(
        { events: count, waitedMs: Date.now() - startedAt, redis: this.o.connection.status },
        'change events wait for Redis, which does not take them; reading stops at CDC_MAX_HELD_EVENTS (nothing is acknowledged meanwhile)',
      );
    }, SLOW_FLUSH_WARN_MS);
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          // different queues side by side; within one queue the jobs keep their order (one addBulk)
          // the key changes read, for the legacy writer: in Redis before anything of this flush is acknowledged (key-moves.ts)
          const moves = this.o.connection.multi();
          const moved = addKeyMoves(moves, [...buffers.values()].flat(), this.o.keyMoveTtlMs === undefined ? DEFAULT_KEY_MOVE_TTL_MS : this.o.keyMoveTtlMs) ? moves.exec() : undefined;
          await Promise.all([...[...jobs].map(([queue, list]) => this.queue(queue).addBulk(list)), moved]);
          break;
        } catch (e) {
          if (this.closed) throw e;
          this.failing = (e as Error).message;
          if (attempt === 1 || attempt % 20 === 0) this.o.log.warn({ err: this.failing, attempt, events: count }, 'cannot enqueue change events; trying again (nothing is acknowledged meanwhile)');
          await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** Math.min(attempt, 6))));
        }
      }
    } finally {
      clearInterval(slow);
    }
    if (this.failing !== undefined) this.o.log.info({ events: count, waitedMs: Date.now() - startedAt }, 'change events enqueued again');
    this.failing = undefined;
    this.waitingSince = undefined;
    this.inFlight -= count;
    this.o.flushed({ boundary, perTopic, commitTimesMs: commitTimes, enqueuedAtMs: Date.now() });
  }

  /** a heartbeat job at the end of every partition queue's list (a redelivered one is harmless: it says nothing new) */
  private addHeartbeats(jobs: Map<string, Job[]>, atMs: number): void {
    const heartbeat = { source: this.o.source ?? '', at: new Date(atMs).toISOString() };
    for (const topic of this.o.topics ?? []) {
      for (let p = 0; p < this.o.partitions; p++) {
        const queue = partitionQueueName(cdcQueuePrefix(topic), p);
        let list = jobs.get(queue);
        if (!list) jobs.set(queue, (list = []));
        // not kept once done: sixteen a second would crowd the change jobs out of the completed list
        list.push({ name: 'heartbeat', data: { schemaVersion: CHANGE_EVENT_SCHEMA_VERSION, events: [], heartbeat }, opts: { removeOnComplete: true } });
      }
    }
  }

  /** a snapshot end at the end of every partition queue's list of the topic (kept once done, like change jobs: there are few) */
  private addSnapshotEnd(jobs: Map<string, Job[]>, topic: string, position: string): void {
    const snapshotEnd = { source: this.o.source ?? '', topic, position, partitions: this.o.partitions };
    for (let p = 0; p < this.o.partitions; p++) {
      const queue = partitionQueueName(cdcQueuePrefix(topic), p);
      let list = jobs.get(queue);
      if (!list) jobs.set(queue, (list = []));
      list.push({ name: 'snapshot-end', data: { schemaVersion: CHANGE_EVENT_SCHEMA_VERSION, events: [], snapshotEnd } });
    }
  }

  private jobs(events: ChangeEvent[]): Job[] {
    const jobs: Job[] = [];
    for (let i = 0; i < events.length; i += this.o.maxEventsPerJob) {
      const slice = events.slice(i, i + this.o.maxEventsPerJob);
      jobs.push({ name: 'changes', data: { schemaVersion: CHANGE_EVENT_SCHEMA_VERSION, events: slice } });
    }
    return jobs;
  }

  private queue(name: string): Queue<ChangeBatch> {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue<ChangeBatch>(name, {
        connection: this.o.connection,
        // consumers retry in place and dead-letter themselves; done jobs need not be kept long
        defaultJobOptions: { removeOnComplete: { count: 1_000 }, removeOnFail: { count: 10_000 } },
      });
      q.on('error', () => undefined); // a failed enqueue is retried and logged by the publisher; without a listener BullMQ prints each error raw
      this.queues.set(name, q);
    }
    return q;
  }

  /** queue names used so far (for depth metrics) */
  queueNames(): string[] {
    return [...this.queues.keys()];
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.flushing?.catch(() => undefined);
    for (const w of [...this.waiters.splice(0), ...this.drainWaiters.splice(0)]) w();
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
