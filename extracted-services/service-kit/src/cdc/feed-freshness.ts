/**
 * How fresh a service's copy of the legacy database is: the CDC reader puts a heartbeat on
 * every partition of every topic, behind the changes, each second (legacy-adapters/cdc,
 * Publisher.heartbeat), saying up to when it has read the source. A partition that reaches one
 * has applied everything committed before that time. The service is as fresh as its least
 * fresh partition: a stopped CDC, a partition held by a job that cannot be applied, or queues
 * that grow faster than they drain all show here as a growing lag.
 *
 * Until a first heartbeat arrives the lag is unknown (null): a CDC too old to send them, or a
 * test's stand-in, must not make every read a refusal. A topic counts from its first heartbeat
 * on (one the CDC's mapping does not feed never would), and then a partition of it not heard
 * from yet counts as caught up to that first one, so a partition stuck from the start ages.
 */
export interface FeedLag {
  /** ms behind the source, of the least fresh partition; null until a heartbeat has arrived */
  lagMs: number | null;
  /** the time (ISO) the least fresh partition is caught up to */
  caughtUpTo: string | null;
  /** the topic and partition that is least fresh */
  slowest: { topic: string; partition: number } | null;
}

export class FeedFreshness {
  private readonly caughtUp = new Map<string, number>();
  /** per topic, the time of its first heartbeat */
  private readonly firstHeard = new Map<string, number>();

  constructor(
    private readonly topics: readonly string[],
    private readonly partitions: number,
  ) {}

  /** a partition reached a heartbeat saying it is caught up to `atMs` */
  heard(topic: string, partition: number, atMs: number): void {
    const slot = `${topic}\u0000${partition}`;
    if ((this.caughtUp.get(slot) ?? -Infinity) < atMs) this.caughtUp.set(slot, atMs);
    if (!this.firstHeard.has(topic)) this.firstHeard.set(topic, atMs);
  }

  lag(now = Date.now()): FeedLag {
    let oldest = Infinity;
    let slowest: FeedLag['slowest'] = null;
    for (const topic of this.topics) {
      const first = this.firstHeard.get(topic);
      if (first === undefined) continue;
      for (let p = 0; p < this.partitions; p++) {
        const at = this.caughtUp.get(`${topic}\u0000${p}`) ?? first;
        if (at < oldest) {
          oldest = at;
          slowest = { topic, partition: p };
        }
      }
    }
    if (slowest === null) return { lagMs: null, caughtUpTo: null, slowest: null };
    return { lagMs: Math.max(0, now - oldest), caughtUpTo: new Date(oldest).toISOString(), slowest };
  }
}
