/**
 * The pause before the source connects again after its stream broke: doubling with each
 * failure in a row (250 ms × 2^n, at most 10 s), and back to the shortest once the stream had
 * been running well for a while. A stream that breaks only ever ends in an error, so "in a
 * row" must be told by how long it ran: otherwise one blip a day would, after six days, make
 * every reconnect wait the longest pause.
 */
export interface ReconnectBackoffOptions {
  baseMs?: number;
  maxMs?: number;
  /** a stream that ran this long before it broke was healthy: the count starts again (default 60 s) */
  healthyAfterMs?: number;
}

export class ReconnectBackoff {
  private failures = 0;
  private streamingSince: number | undefined;

  constructor(private readonly o: ReconnectBackoffOptions = {}) {}

  /** The stream is up (state streaming). */
  streaming(now = Date.now()): void {
    this.streamingSince = now;
  }

  /** The stream broke (or never came up): answers the pause before the next try. */
  failed(now = Date.now()): number {
    if (this.streamingSince !== undefined && now - this.streamingSince >= (this.o.healthyAfterMs ?? 60_000)) this.failures = 0;
    this.streamingSince = undefined;
    this.failures++;
    return Math.min(this.o.maxMs ?? 10_000, (this.o.baseMs ?? 250) * 2 ** Math.min(this.failures, 6));
  }

  /** failures in a row, for the log */
  get count(): number {
    return this.failures;
  }
}
