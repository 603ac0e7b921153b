/**
 * A circuit breaker per upstream. Passive: consecutive failures of real requests open it.
 * Active: the health checker opens it when checks fail and closes it when they pass again.
 * While open, requests are not sent (safe ones fall back to legacy); after `openMs` one trial
 * request is let through (half-open) and its outcome closes or re-opens the circuit.
 */
import type { CircuitBreakerOptions } from '@ficus/contracts';

export type CircuitState = 'closed' | 'open' | 'half-open';

export const CIRCUIT_STATE_VALUE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };

export interface BreakerSettings extends Required<CircuitBreakerOptions> {
  /**
   * How long a half-open trial holds the one slot without a verdict. Its answer normally comes
   * within the upstream's timeouts, but not while a slow client is still uploading the body (the
   * response timeout does not run then): past this, the next request may be a trial too.
   */
  trialTimeoutMs?: number;
}

/** What admit() answers: no; yes, the circuit is closed; or a positive number, the half-open trial's. */
export const REFUSED = 0;
export const PASS = -1;

/** The state as people read it: since when (epoch ms), and why it got there (PHI-free: failure codes, statuses, health-check errors). */
export interface CircuitSnapshot {
  state: CircuitState;
  since: number;
  reason: string | undefined;
}

export class CircuitBreaker {
  private state: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  /** the trial in flight (0: none), and when it was let through */
  private trial = 0;
  private trialSince = 0;
  private trials = 0;
  /** when the state last changed (the breaker's creation at first), and why */
  private changedAt: number;
  private changeReason: string | undefined;

  constructor(
    private options: BreakerSettings,
    private readonly onChange: (state: CircuitState, reason: string) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {
    this.changedAt = now();
  }

  reconfigure(options: BreakerSettings): void {
    this.options = options;
  }

  get current(): CircuitState {
    if (this.state === 'open' && this.now() - this.openedAt >= this.options.openMs) return 'half-open';
    return this.state;
  }

  /**
   * The state with since when and why. An open circuit whose cool-down has elapsed reads as
   * half-open from the end of the cool-down, as `current` says, before any request has made the
   * move; while the health checker keeps it open, it is open since it first opened.
   */
  snapshot(): CircuitSnapshot {
    const state = this.current;
    if (state === 'half-open' && this.state === 'open') return { state, since: this.openedAt + this.options.openMs, reason: 'cool-down elapsed' };
    return { state, since: this.changedAt, reason: this.changeReason };
  }

  /**
   * May a request be sent now? In half-open, only one trial at a time is allowed: its number
   * is returned, and the request that holds it gives it back with release() if it ends without
   * telling success() or failure() (its client went away), or the next request waits for ever.
   */
  admit(): number {
    if (this.state === 'closed') return PASS;
    const now = this.now();
    if (this.state === 'open') {
      if (now - this.openedAt < this.options.openMs) return REFUSED;
      this.transition('half-open', 'cool-down elapsed');
      // half-open since the cool-down ended, as snapshot() said before this request came
      this.changedAt = this.openedAt + this.options.openMs;
    }
    if (this.trial !== 0 && now - this.trialSince < (this.options.trialTimeoutMs ?? Infinity)) return REFUSED;
    this.trialSince = now;
    this.trial = ++this.trials;
    return this.trial;
  }

  /** A trial ended without an answer from the upstream: the next request may be the trial. */
  release(trial: number): void {
    if (trial === this.trial) this.trial = 0;
  }

  success(): void {
    this.failures = 0;
    this.trial = 0;
    if (this.state !== 'closed') this.transition('closed', 'request succeeded');
  }

  failure(reason: string): void {
    this.trial = 0;
    this.failures++;
    if (this.state === 'half-open') this.open(`trial failed: ${reason}`);
    else if (this.state === 'closed' && this.failures >= this.options.failureThreshold) {
      this.open(`${this.failures} consecutive failures, last: ${reason}`);
    }
  }

  /** The health checker found the upstream down (again): open, and restart the cool-down. */
  forceOpen(reason: string): void {
    this.trial = 0;
    if (this.state !== 'open') this.open(reason);
    else this.openedAt = this.now();
  }

  /** The health checker found the upstream up again. */
  forceClose(reason: string): void {
    this.failures = 0;
    this.trial = 0;
    if (this.state !== 'closed') this.transition('closed', reason);
  }

  private open(reason: string): void {
    this.openedAt = this.now();
    this.transition('open', reason);
  }

  private transition(state: CircuitState, reason: string): void {
    if (this.state === state) return;
    this.state = state;
    this.changedAt = this.now();
    this.changeReason = reason;
    this.onChange(state, reason);
  }
}
