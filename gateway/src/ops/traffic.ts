/**
 * Traffic per rule for the dashboard, from every instance: about every second the hot-path
 * counters of ops/metrics.ts are read, the difference since the last read is added to the
 * minute's row in the gateway database. Nothing is added to the cost of a request.
 */
import { FailureStreak, type Logger, type ParityStore, type TrafficBucket } from '@ficus/contracts';
import type { GatewayMetrics, RouteStats } from './metrics.js';

interface Seen {
  requests: number;
  e4: number;
  e5: number;
}

function totals(s: RouteStats): Seen {
  let requests = 0;
  let e4 = 0;
  let e5 = 0;
  for (const [code, n] of s.byStatus) {
    requests += n;
    if (code >= 500) e5 += n;
    else if (code >= 400) e4 += n;
  }
  return { requests, e4, e5 };
}

export class TrafficFlusher {
  private readonly seen = new Map<RouteStats, Seen>();
  private pending = new Map<string, TrafficBucket>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly failures: FailureStreak;

  constructor(
    private readonly metrics: GatewayMetrics,
    private readonly store: ParityStore,
    log: Logger,
    private readonly flushMs = 1_000,
  ) {
    // a flush a second: a store outage would otherwise warn every second
    this.failures = new FailureStreak(log, 'writing traffic counts', 60);
  }

  /** Moves what the counters gained since the last read into the pending buckets. */
  collect(now = Date.now()): void {
    const minute = now - (now % 60_000);
    for (const s of this.metrics.allRoutes()) {
      const t = totals(s);
      const before = this.seen.get(s) ?? { requests: 0, e4: 0, e5: 0 };
      const d = { requests: t.requests - before.requests, e4: t.e4 - before.e4, e5: t.e5 - before.e5 };
      if (d.requests === 0) continue;
      this.seen.set(s, t);
      const key = `${s.rule}\u0000${s.target}\u0000${minute}`;
      const b = this.pending.get(key) ?? { rule: s.rule, target: s.target, minute, requests: 0, errors4xx: 0, errors5xx: 0, fallbacks: 0 };
      this.pending.set(key, b);
      b.requests += d.requests;
      b.errors4xx += d.e4;
      b.errors5xx += d.e5;
      if (s.fallback) b.fallbacks += d.requests;
    }
  }

  /** Writes what the counters gained until now (after a flush already under way). */
  async flush(): Promise<void> {
    while (this.running) await this.running;
    this.running = this.write().finally(() => (this.running = undefined));
    return this.running;
  }

  private async write(): Promise<void> {
    this.collect();
    const batch = [...this.pending.values()];
    if (batch.length === 0) return;
    try {
      await this.store.addTraffic(batch);
      this.pending = new Map();
      this.failures.succeeded();
    } catch (e) {
      // kept for the next flush; bounded by rules × targets × minutes of an outage
      if (this.pending.size > 50_000) this.pending = new Map();
      this.failures.failed(e as Error, { kept: this.pending.size });
    }
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    await this.flush();
  }
}
