/**
 * Delivers what the store says is pending, per target and lane (partition): one query reads
 * the head of every idle lane (and marks what lanes finished as delivered); lanes are worked
 * side by side and independently (a lane waiting for a slow ACK holds no other), each strictly
 * in message order (one at a time to the legacy inbound, in bulk to a queue). A message of
 * several patients (a merge, a multi-patient ORU) travels in its first patient's lane and holds
 * the others' (lane-order.ts): it waits for what is older in them, what is newer in them waits
 * for it. A failure holds
 * its lane (no later message of the same patients overtakes it) and is retried with backoff, and so
 * is a refusal by legacy that says "not now" (HL7_LEGACY_RETRY_ON: legacy-answers.ts); any other
 * refusal is a dead letter, kept with its reason, and the partition moves on. Only one adapter
 * instance dispatches at a time (a PostgreSQL advisory lock, held by a session of its own and
 * checked at every poll); another takes over if it dies or loses its session, and an instance
 * that loses the lock stops after the round in hand.
 */
import type pg from 'pg';
import { FailureStreaks, type Logger, type UpstreamTlsMaterial } from '@ficus/contracts';
import type { AdapterMetrics } from '../ops/metrics.js';
import type { DeliveryStore, PendingDelivery } from './delivery-store.js';
import { DispatcherLock } from './dispatcher-lock.js';
import type { AckAnswer } from './mllp-client.js';
import type { AnswerFields } from './legacy-answers.js';
import type { QueuePublisher } from './queue-publisher.js';
import { cutAtBarrier, LaneBarriers } from './lane-order.js';
import { LaneSenders, type PartitionOutcome } from './lane-senders.js';

export interface DispatcherOptions {
  pool: pg.Pool;
  deliveries: DeliveryStore;
  publisher: QueuePublisher;
  /** mllp:// URL of a legacy inbound upstream, by name (from the current rules) */
  legacyUrl: (upstream: string) => string | undefined;
  /** an mllps:// legacy inbound's TLS settings, from the current rules */
  legacyTls?: (upstream: string) => UpstreamTlsMaterial | undefined;
  metrics: AdapterMetrics;
  log: Logger;
  connectTimeoutMs: number;
  ackTimeoutMs: number;
  maxBackoffMs: number;
  idlePollMs: number;
  /** whether a refusal by legacy is temporary: its lane waits and it is tried again, else it is a dead letter */
  temporary: (answer: AnswerFields) => boolean;
  /** told when a message's delivery to a target is settled (for application ACKs) */
  settled?: (d: PendingDelivery, outcome: 'delivered' | 'dead', answer: AckAnswer | undefined) => void;
}

/** deliveries read per lane and round */
const PER_LANE = 200;
/**
 * deliveries sent to legacy per lane before they are marked delivered (with the next round's
 * read): what a crash makes legacy receive a second time, at most, per lane
 */
const LEGACY_RUN = 25;
/** how long a worker with nothing left waits for more before it marks what it delivered and stops */
const LINGER_MS = 20;



interface LaneRun extends PartitionOutcome {
  partition: number;
  /** the lane was read to its limit: it may have more */
  full: boolean;
}

/** What the dispatcher knows of a target's lanes while its worker runs. */
interface LaneState {
  /** being delivered right now */
  busy: Set<number>;
  /** busy lanes that got new deliveries meanwhile */
  newWork: Set<number>;
  /** held for a retry, and when it is due */
  held: Map<number, number>;
}

export class Dispatcher {
  private readonly workers = new Map<string, Promise<void>>();
  /** wakes a target's worker that waits for its lanes: new work came */
  private readonly targetWakes = new Map<string, () => void>();
  /** the lanes of each target whose worker runs */
  private readonly lanes = new Map<string, LaneState>();
  /** targets that got new work while their worker was busy */
  private readonly again = new Set<string>();
  private readonly senders: LaneSenders;
  private readonly lock: DispatcherLock;
  private stopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  /** per target: rounds and lanes that fail again and again (the database down) log now and then */
  private readonly roundFailures: FailureStreaks;
  private readonly laneFailures: FailureStreaks;

  constructor(private readonly o: DispatcherOptions) {
    this.lock = new DispatcherLock(o.pool, o.log);
    this.senders = new LaneSenders(o);
    this.roundFailures = new FailureStreaks(o.log, (target) => `a delivery round for ${target}`);
    this.laneFailures = new FailureStreaks(o.log, (target) => `delivery to ${target}`);
  }

  /** Something new was stored: look now rather than at the next poll. */
  nudge(): void {
    this.wake?.();
  }

  /**
   * New deliveries were committed for these lanes: work them now. A lane being worked on reads
   * its next deliveries when it finishes, so only new work for an idle lane wakes its target.
   */
  committed(lanes: Iterable<{ target: string; partition: number }>): void {
    if (this.stopped || !this.lock.holding) return this.nudge();
    const byTarget = new Map<string, number[]>();
    for (const l of lanes) {
      const list = byTarget.get(l.target);
      if (list) list.push(l.partition);
      else byTarget.set(l.target, [l.partition]);
    }
    const now = Date.now();
    for (const [target, partitions] of byTarget) {
      const lane = this.lanes.get(target);
      if (this.workers.has(target) && lane) {
        // busy lanes are read again when they finish; held ones when their retry is due
        for (const p of partitions) if (lane.busy.has(p)) lane.newWork.add(p);
        if (partitions.every((p) => lane.busy.has(p) || (lane.held.get(p) ?? 0) > now)) continue;
      }
      this.startTarget(target);
    }
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.nudge();
    await this.loop;
    await Promise.all(this.workers.values());
    this.senders.close();
    this.lock.release();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (await this.lock.hold()) {
        try {
          for (const target of await this.o.deliveries.busyTargets()) this.startTarget(target);
        } catch (e) {
          this.o.log.warn({ err: (e as Error).message }, 'cannot read pending deliveries');
        }
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.o.idlePollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private startTarget(target: string): void {
    if (this.workers.has(target)) {
      this.again.add(target);
      this.targetWakes.get(target)?.();
      return;
    }
    const work = this.workTarget(target)
      .then(() => this.roundFailures.of(target).succeeded())
      .catch((e: Error) => this.roundFailures.of(target).failed(e, { target }))
      .finally(() => {
        this.workers.delete(target);
        if (this.again.delete(target) && !this.stopped) this.startTarget(target);
      });
    this.workers.set(target, work);
  }

  /**
   * Until nothing is pending: read the idle lanes whose head is due, start each, then wait for
   * a lane to finish, new work, or the next retry to come due, whichever is first. A lane that
   * finished is read again at once only when it may have more (a full read, or new work came
   * for it meanwhile); what lanes delivered is marked with the next read, or after a short
   * linger when nothing else comes, so a steady trickle of messages costs one query each.
   */
  private async workTarget(target: string): Promise<void> {
    const [kind, name] = target.split(/:(.*)/s) as [string, string];
    // legacy takes one message at a time: read a lane's next few, so a crash resends few
    const perLane = kind === 'queue' ? PER_LANE : LEGACY_RUN;
    const busy = new Map<number, Promise<LaneRun>>();
    const lane = { busy: new Set<number>(), newWork: new Set<number>(), held: new Map<number, number>() };
    this.lanes.set(target, lane);
    const barriers = new LaneBarriers(this.o.deliveries, target);
    const finished: LaneRun[] = [];
    let delivered: number[] = [];
    let read = true;
    try {
      while (!this.stopped && this.lock.holding) {
        let wait = this.o.idlePollMs;
        let started = 0;
        if (read) {
          this.again.delete(target);
          const batch = await this.o.deliveries.nextRound(target, perLane, delivered, [...busy.keys()]);
          delivered = [];
          started = this.startLanes(target, kind, name, batch, perLane, busy, lane, finished, await barriers.forRound(batch));
          // a held lane whose retry is due and that was not read has nothing due: the poll finds it if it does later
          const now = Date.now();
          for (const [p, at] of lane.held) if (at <= now && !busy.has(p)) lane.held.delete(p);
          if (started < 0) wait = 10;
        }
        let lingering = false;
        if (busy.size === 0 && lane.held.size === 0 && !this.again.has(target) && started === 0) {
          if (delivered.length === 0) return;
          // nothing to do but mark what was delivered: with the next read, if one comes soon
          lingering = true;
          wait = LINGER_MS;
        }
        if (lane.held.size > 0) wait = Math.max(10, Math.min(wait, Math.min(...lane.held.values()) - Date.now()));
        const woken = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), wait);
          const done = () => {
            clearTimeout(timer);
            if (this.targetWakes.get(target) === done) this.targetWakes.delete(target);
            resolve(true);
          };
          this.targetWakes.set(target, done);
          if (this.again.has(target) || finished.length > 0) done();
        });
        if (lingering && !woken) return;
        // lanes that finish together are read again together
        await new Promise((r) => setImmediate(r));
        read = this.again.has(target) || !woken;
        for (const r of finished.splice(0)) {
          busy.delete(r.partition);
          lane.busy.delete(r.partition);
          delivered.push(...r.delivered);
          if (r.retryAt !== undefined) lane.held.set(r.partition, r.retryAt);
          else if (r.full || lane.newWork.has(r.partition)) read = true;
          lane.newWork.delete(r.partition);
        }
        if (lane.held.size > 0 && Math.min(...lane.held.values()) <= Date.now()) read = true;
      }
    } finally {
      for (const r of await Promise.all(busy.values())) delivered.push(...r.delivered);
      lane.busy.clear();
      if (delivered.length > 0) await this.o.deliveries.delivered(delivered, null).catch(() => undefined);
    }
  }

  /** Starts a run for each lane of the batch; how many started (-1: some are due a moment later). */
  private startLanes(
    target: string,
    kind: string,
    name: string,
    batch: PendingDelivery[],
    perLane: number,
    busy: Map<number, Promise<LaneRun>>,
    lane: LaneState,
    finished: LaneRun[],
    barriers: ReadonlyMap<number, number>,
  ): number {
    const now = Date.now();
    const lanes = new Map<number, PendingDelivery[]>();
    for (const d of batch) {
      const list = lanes.get(d.partition);
      if (list) list.push(d);
      else lanes.set(d.partition, [d]);
    }
    let started = 0;
    let soon = false;
    for (const [partition, list] of lanes) {
      lane.held.delete(partition);
      // what follows an older message of several patients in another lane waits for it (looked at again shortly)
      const { before, barred } = cutAtBarrier(list, barriers.get(partition));
      // a retry due later holds its lane from the first delivery not yet due
      const cut = before.findIndex((d) => d.notBefore > now);
      const due = cut < 0 ? before : before.slice(0, cut);
      if (due.length === 0) {
        if (before.length === 0) lane.held.set(partition, now + this.senders.recheckMs);
        // due by the database's clock, a moment ahead of ours
        else soon = true;
        continue;
      }
      const full = list.length === perLane;
      const run = (kind === 'queue' ? this.senders.toQueue(name, due) : this.senders.toLegacy(name, due)).then(
        (o): LaneRun => {
          this.laneFailures.of(target).succeeded();
          return { ...o, retryAt: o.retryAt ?? (barred ? Date.now() + this.senders.recheckMs : undefined), partition, full };
        },
        (e: Error): LaneRun => {
          this.laneFailures.of(target).failed(e, { target });
          return { delivered: [], retryAt: Date.now() + this.o.idlePollMs, partition, full };
        },
      );
      busy.set(partition, run);
      lane.busy.add(partition);
      started++;
      void run.then((r) => {
        finished.push(r);
        this.targetWakes.get(target)?.();
      });
    }
    return started === 0 && soon ? -1 : started;
  }
}
