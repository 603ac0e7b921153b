/**
 * Read your own writes across a migration. A new service learns of a change made through the
 * legacy a moment later (CDC, typically 0.1–1 s, more under load). A client that saves a chart
 * through the legacy and reopens it from a canary or `new` rule would read the old state, and
 * its next save would write that old state back over the change: a lost update no one sees.
 * So the resources written through the gateway to the legacy are remembered for a while (by
 * path: the request's, and the Location of what a POST created), and safe reads of them go to
 * the legacy meanwhile. Per gateway instance: behind several instances, a load balancer's
 * session affinity keeps a client's reads with its writes.
 */

/** how many paths are remembered at most; beyond, the oldest are forgotten first */
const MAX_PATHS = 100_000;

export class RecentWrites {
  /** path → when it stops being recent; insertion order is expiry order (one TTL for all) */
  private readonly until = new Map<string, number>();

  constructor(readonly ttlMs: number) {}

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  remember(path: string, now = Date.now()): void {
    if (!this.enabled) return;
    this.until.delete(path);
    this.until.set(path, now + this.ttlMs);
    this.forget(now);
  }

  isRecent(path: string, now = Date.now()): boolean {
    if (this.until.size === 0) return false;
    const t = this.until.get(path);
    if (t === undefined) return false;
    if (t > now) return true;
    this.until.delete(path);
    return false;
  }

  get size(): number {
    return this.until.size;
  }

  private forget(now: number): void {
    for (const [path, t] of this.until) {
      if (t > now && this.until.size <= MAX_PATHS) break;
      this.until.delete(path);
    }
  }
}
