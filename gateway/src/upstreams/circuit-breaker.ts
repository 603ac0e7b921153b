/**
 * A circuit breaker per upstream. Passive: consecutive failures of real requests open it.
 * Active: the health checker opens it when checks fail and closes it when they pass again.
 * While open, requests are not sent (safe ones fall back to legacy); after `openMs` one trial
 * request is let through (half-open) and its outcome closes or re-opens the circuit.
 */
import type { CircuitBreakerOptions } from '@ficus/contracts';

export type CircuitState = 'closed' | 'open' | 'half-open';

export const CIRCUIT_STATE_VALUE: Record<CircuitState, number> = { closed: 0, 'half-open': 1, open: 2 };

export class CircuitBreaker {
  private state: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private trialInFlight = false;

  constructor(
    private options: Required<CircuitBreakerOptions>,
    private readonly onChange: (state: CircuitState, reason: string) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  reconfigure(options: Required<CircuitBreakerOptions>): void {
    this.options = options;
  }

  get current(): CircuitState {
    if (this.state === 'open' && this.now() - this.openedAt >= this.options.openMs) return 'half-open';
    return this.state;
  }

  /** May a request be sent now? In half-open, only one trial at a time is allowed. */
  allow(): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') {
      if (this.now() - this.openedAt < this.options.openMs) return false;
      this.transition('half-open', 'cool-down elapsed');
    }
    if (this.trialInFlight) return false;
    this.trialInFlight = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.trialInFlight = false;
    if (this.state !== 'closed') this.transition('closed', 'request succeeded');
  }

  failure(reason: string): void {
    this.trialInFlight = false;
    this.failures++;
    if (this.state === 'half-open') this.open(`trial failed: ${reason}`);
    else if (this.state === 'closed' && this.failures >= this.options.failureThreshold) {
      this.open(`${this.failures} consecutive failures, last: ${reason}`);
    }
  }

  /** The health checker found the upstream down (again): open, and restart the cool-down. */
  forceOpen(reason: string): void {
    this.trialInFlight = false;
    if (this.state !== 'open') this.open(reason);
    else this.openedAt = this.now();
  }

  /** The health checker found the upstream up again. */
  forceClose(reason: string): void {
    this.failures = 0;
    this.trialInFlight = false;
    if (this.state !== 'closed') this.transition('closed', reason);
  }

  private open(reason: string): void {
    this.openedAt = this.now();
    this.transition('open', reason);
  }

  private transition(state: CircuitState, reason: string): void {
    if (this.state === state) return;
    this.state = state;
    this.onChange(state, reason);
  }
}
