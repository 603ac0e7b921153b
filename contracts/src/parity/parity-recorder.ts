/**
 * Counts comparisons in memory (rule, minute, compared, mismatches, fields; the keys compared)
 * and flushes them to the parity store about every second, so that several instances add up in one place. The
 * instance's own running totals stay here for its metrics. A flush that fails keeps its counts
 * for the next one (bounded: past `maxPendingBuckets` the oldest are dropped and counted).
 */
import { FailureStreak } from '../failure-streak.js';
import type { Logger } from '../logger.js';
import type { Comparison } from './compare.js';
import { mergeSeen, seenId, type KeySeen } from './parity-keys.js';
import type { ParityBucket, ParitySample, ParityStore } from './parity-store.js';

/** Which record a comparison was about, and against which upstream. */
export interface ComparedKey {
  target: string;
  /** the rule's sticky key, else the request's path parameters (an MRN): hashed before it is stored */
  key: string;
}

export type ComparisonResult = 'match' | 'mismatch';

export interface ParityRecorderOptions {
  store: ParityStore | undefined;
  log: Logger;
  flushMs?: number;
  /** samples kept per rule between two flushes, whatever the sample rate */
  samplesPerFlush?: number;
  maxPendingBuckets?: number;
  /** distinct fields counted per bucket; more are counted as "(other fields)" */
  maxFieldsPerBucket?: number;
  /** distinct keys held between two flushes; past it a key that matched is not kept (see recordKey) */
  maxPendingKeys?: number;
}

const minuteOf = (ms: number) => ms - (ms % 60_000);

export class ParityRecorder {
  private buckets = new Map<string, ParityBucket>();
  private samples: ParitySample[] = [];
  private keys = new Map<string, KeySeen>();
  /** how many of `keys` never differed: the ones a mismatch may displace */
  private matchedKeys = 0;
  private readonly samplesByRule = new Map<string, number>();
  /** this instance's totals since it started, for /metrics: rule → result → count */
  readonly compared = new Map<string, Map<ComparisonResult, number>>();
  /** rule → reason → count */
  readonly skips = new Map<string, Map<string, number>>();
  droppedBuckets = 0;
  /** keys not kept because too many were pending (each one counted for breadth could only understate it) */
  droppedKeys = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private lastPrune = 0;
  private readonly failures: FailureStreak;

  constructor(private readonly o: ParityRecorderOptions) {
    this.failures = new FailureStreak(o.log, 'writing parity counts', 60);
  }

  private bucket(rule: string): ParityBucket {
    const minute = minuteOf(Date.now());
    const key = `${rule}\u0000${minute}`;
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= (this.o.maxPendingBuckets ?? 10_000)) {
        const oldest = this.buckets.keys().next().value as string;
        this.buckets.delete(oldest);
        this.droppedBuckets++;
      }
      b = { rule, minute, compared: 0, mismatches: 0, skipped: 0, fields: new Map() };
      this.buckets.set(key, b);
    }
    return b;
  }

  private count<K>(map: Map<string, Map<K, number>>, rule: string, key: K): void {
    let m = map.get(rule);
    if (!m) map.set(rule, (m = new Map()));
    m.set(key, (m.get(key) ?? 0) + 1);
  }

  /** One comparison; `sample` is kept when it is a mismatch and the sample budget allows. */
  record(rule: string, c: Pick<Comparison, 'match' | 'fields'>, sample?: () => ParitySample, key?: ComparedKey): void {
    this.count(this.compared, rule, c.match ? 'match' : 'mismatch');
    // without a store (file mode) only this instance's metrics count
    if (!this.o.store) return;
    const b = this.bucket(rule);
    b.compared++;
    if (key) this.recordKey({ rule, target: key.target, key: key.key, compared: b.minute, mismatch: c.match ? undefined : b.minute });
    if (c.match) return;
    b.mismatches++;
    const max = this.o.maxFieldsPerBucket ?? 200;
    for (const f of c.fields) {
      const field = b.fields.has(f) || b.fields.size < max ? f : '(other fields)';
      b.fields.set(field, (b.fields.get(field) ?? 0) + 1);
    }
    if (sample) {
      const kept = this.samplesByRule.get(rule) ?? 0;
      if (kept < (this.o.samplesPerFlush ?? 5)) {
        this.samplesByRule.set(rule, kept + 1);
        this.samples.push(sample());
      }
    }
  }

  /**
   * Past the bound, a key that differed takes the place of one that did not: a lost match only
   * understates breadth (the gate holds longer), a lost mismatch would hide a patient who differs.
   */
  private recordKey(seen: KeySeen): void {
    const id = seenId(seen);
    const mine = this.keys.get(id);
    if (mine) {
      if (mine.mismatch === undefined && seen.mismatch !== undefined) this.matchedKeys--;
      return mergeSeen(mine, seen);
    }
    if (this.keys.size >= (this.o.maxPendingKeys ?? 50_000)) {
      this.droppedKeys++;
      if (seen.mismatch === undefined || this.matchedKeys === 0) return;
      for (const [k, v] of this.keys) {
        if (v.mismatch !== undefined) continue;
        this.keys.delete(k);
        this.matchedKeys--;
        break;
      }
    }
    this.keys.set(id, seen);
    if (seen.mismatch === undefined) this.matchedKeys++;
  }

  /** A request that was not compared (busy, too large, not shadowed method, legacy failed...). */
  skipped(rule: string, reason: string): void {
    this.count(this.skips, rule, reason);
    if (this.o.store) this.bucket(rule).skipped++;
  }

  start(): void {
    if (!this.o.store || this.timer) return;
    this.timer = setInterval(() => void this.flush(), this.o.flushMs ?? 1_000);
    this.timer.unref();
  }

  /** Writes what was counted until now (after a flush already under way, which may not hold it). */
  async flush(): Promise<void> {
    const store = this.o.store;
    if (!store) return;
    while (this.flushing) await this.flushing;
    this.flushing = this.doFlush(store).finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async doFlush(store: ParityStore): Promise<void> {
    const buckets = [...this.buckets.values()];
    const samples = this.samples;
    const keys = [...this.keys.values()];
    this.buckets = new Map();
    this.samples = [];
    this.keys = new Map();
    this.matchedKeys = 0;
    this.samplesByRule.clear();
    try {
      await store.add(buckets, samples, keys);
    } catch (e) {
      for (const k of keys) this.recordKey(k);
      // keep the counts for the next flush (samples are expendable)
      for (const b of buckets) {
        const key = `${b.rule}\u0000${b.minute}`;
        const mine = this.buckets.get(key);
        if (!mine) {
          this.buckets.set(key, b);
          continue;
        }
        mine.compared += b.compared;
        mine.mismatches += b.mismatches;
        mine.skipped += b.skipped;
        for (const [f, c] of b.fields) mine.fields.set(f, (mine.fields.get(f) ?? 0) + c);
      }
      this.failures.failed(e as Error, { buckets: buckets.length });
      return;
    }
    this.failures.succeeded();
    if (Date.now() - this.lastPrune > 10 * 60_000) {
      this.lastPrune = Date.now();
      await store.prune().catch((e: Error) => this.o.log.warn({ err: e.message }, 'cannot prune parity counts'));
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flushing;
    await this.flush();
  }
}
