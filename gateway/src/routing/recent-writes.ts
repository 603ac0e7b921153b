/**
 * Read your own writes across a migration. A new service learns of a change made through the
 * legacy a moment later (CDC, typically 0.1–1 s, more under load). A client that saves a chart
 * through the legacy and reopens it from a canary or `new` rule would read the old state, and
 * its next save would write that old state back over the change: a lost update no one sees.
 * Nor may the rest of the chart come from the new service meanwhile: a patient just registered
 * through legacy has no encounters or results there yet (404 where legacy says "none"). So what
 * was written through the gateway to the legacy is remembered for a while, by key: its path, the
 * Location of what a POST created, and the record it concerns (routing/subject.ts); the proxy
 * (proxy/read-after-write.ts) builds the keys and holds safe reads of them on the legacy
 * meanwhile. Per gateway instance: behind several instances, a load balancer's session affinity
 * keeps a client's reads with its writes.
 */

/** how many keys are remembered at most; beyond, the oldest are forgotten first */
const MAX_KEYS = 100_000;

export class RecentWrites {
  /** key → when it stops being recent; insertion order is expiry order (one TTL for all) */
  private readonly until = new Map<string, number>();

  constructor(readonly ttlMs: number) {}

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  remember(key: string, now = Date.now()): void {
    if (!this.enabled) return;
    this.until.delete(key);
    this.until.set(key, now + this.ttlMs);
    this.forget(now);
  }

  isRecent(key: string, now = Date.now()): boolean {
    if (this.until.size === 0) return false;
    const t = this.until.get(key);
    if (t === undefined) return false;
    if (t > now) return true;
    this.until.delete(key);
    return false;
  }

  get size(): number {
    return this.until.size;
  }

  private forget(now: number): void {
    for (const [key, t] of this.until) {
      if (t > now && this.until.size <= MAX_KEYS) break;
      this.until.delete(key);
    }
  }
}
