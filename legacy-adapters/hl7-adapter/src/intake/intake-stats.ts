/**
 * What the listener answered, counted per minute in memory and added to hl7_intake_stats every
 * few seconds (and on shutdown): the ACK codes sent and the messages refused, for
 * GET /api/hl7/stats across restarts and instances. A write that fails keeps its counts for the
 * next one; a crash loses at most the last few seconds of counts, never a message.
 */
import type pg from 'pg';
import type { Logger } from '@ficus/contracts';

export type IntakeOutcome = 'accepted' | 'duplicate' | 'rejected' | 'store-error' | 'application' | 'query-answered' | 'query-failed' | 'ack-ignored';

const FLUSH_MS = 5_000;

export class IntakeStats {
  private counts = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
  ) {}

  /** One answer: the ACK code sent ('' when none was due) and what became of the message. */
  count(ackCode: string, outcome: IntakeOutcome): void {
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    const k = `${minute}|${ackCode}|${outcome}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }

  start(): void {
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  flush(): Promise<void> {
    this.flushing ??= this.write().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  private async write(): Promise<void> {
    if (this.counts.size === 0) return;
    const taken = this.counts;
    this.counts = new Map();
    const rows = [...taken].map(([k, n]) => {
      const [minute, code, outcome] = k.split('|') as [string, string, string];
      return { minute: new Date(Number(minute)).toISOString(), code, outcome, n };
    });
    try {
      await this.pool.query(
        `INSERT INTO hl7_intake_stats (minute, ack_code, outcome, count)
         SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::bigint[])
         ON CONFLICT (minute, ack_code, outcome) DO UPDATE SET count = hl7_intake_stats.count + excluded.count`,
        [rows.map((r) => r.minute), rows.map((r) => r.code), rows.map((r) => r.outcome), rows.map((r) => r.n)],
      );
    } catch (e) {
      // keep them for the next write
      for (const [k, n] of taken) this.counts.set(k, (this.counts.get(k) ?? 0) + n);
      this.log.warn({ err: (e as Error).message }, 'cannot write the intake counts; kept for the next try');
    }
  }
}
