import { describe, expect, it } from 'vitest';
import { CircuitBreaker, PASS, REFUSED, type CircuitState } from './circuit-breaker.js';

function breaker(trialTimeoutMs?: number) {
  let now = 0;
  const changes: CircuitState[] = [];
  const b = new CircuitBreaker({ failureThreshold: 3, openMs: 1_000, trialTimeoutMs }, (s) => changes.push(s), () => now);
  return { b, changes, advance: (ms: number) => (now += ms) };
}

describe('circuit breaker', () => {
  it('opens after the threshold of consecutive failures, not before; a success resets the count', () => {
    const { b, changes } = breaker();
    b.failure('x');
    b.failure('x');
    b.success();
    b.failure('x');
    b.failure('x');
    expect(b.current).toBe('closed');
    b.failure('x');
    expect(b.current).toBe('open');
    expect(b.admit()).toBe(REFUSED);
    expect(changes).toEqual(['open']);
  });

  it('lets one trial through after the cool-down; its success closes, its failure re-opens', () => {
    const { b, advance } = breaker();
    for (let i = 0; i < 3; i++) b.failure('x');
    advance(1_000);
    expect(b.current).toBe('half-open');
    expect(b.admit()).toBeGreaterThan(0);
    expect(b.admit()).toBe(REFUSED); // one trial at a time
    b.failure('still down');
    expect(b.current).toBe('open');
    advance(1_000);
    expect(b.admit()).toBeGreaterThan(0);
    b.success();
    expect(b.current).toBe('closed');
    expect(b.admit()).toBe(PASS);
  });

  it('lets the next request be the trial when the trial in flight is given back without a verdict (its client went away)', () => {
    const { b, advance, changes } = breaker();
    for (let i = 0; i < 3; i++) b.failure('x');
    advance(1_000);
    const first = b.admit();
    expect(first).toBeGreaterThan(0);
    expect(b.admit()).toBe(REFUSED);
    b.release(first);
    expect(b.current).toBe('half-open');
    const second = b.admit();
    expect(second).toBeGreaterThan(0);
    expect(second).not.toBe(first);
    // a late release of the first trial does not free the second's slot
    b.release(first);
    expect(b.admit()).toBe(REFUSED);
    b.success();
    expect(b.current).toBe('closed');
    expect(changes).toEqual(['open', 'half-open', 'closed']);
  });

  it('does not let a trial whose verdict never comes hold the slot past trialTimeoutMs', () => {
    const { b, advance } = breaker(5_000);
    for (let i = 0; i < 3; i++) b.failure('x');
    advance(1_000);
    const first = b.admit();
    expect(first).toBeGreaterThan(0);
    advance(4_999);
    expect(b.admit()).toBe(REFUSED);
    advance(1);
    const second = b.admit();
    expect(second).toBeGreaterThan(first);
    expect(b.admit()).toBe(REFUSED);
    // the first one's verdict, when it comes at last, still counts
    b.success();
    expect(b.current).toBe('closed');
  });

  it('stays open while the health checker keeps finding the upstream down, and closes when it is back', () => {
    const { b, advance } = breaker();
    b.forceOpen('health check failed');
    for (let i = 0; i < 5; i++) {
      advance(900);
      b.forceOpen('health check failed again');
      expect(b.current).toBe('open');
      expect(b.admit()).toBe(REFUSED);
    }
    b.forceClose('health check passed');
    expect(b.current).toBe('closed');
  });
});

describe('circuit breaker: since when, and why', () => {
  it('tells since when it is in its state and why, from its creation on', () => {
    let now = 10_000;
    const b = new CircuitBreaker({ failureThreshold: 2, openMs: 1_000 }, () => {}, () => now);
    expect(b.snapshot()).toEqual({ state: 'closed', since: 10_000, reason: undefined });
    now += 500;
    b.failure('connection-refused');
    now += 500;
    b.failure('connection-refused');
    expect(b.snapshot()).toEqual({ state: 'open', since: 11_000, reason: '2 consecutive failures, last: connection-refused' });
    // the cool-down elapsed: half-open from its end, before any request came, and still once one does
    now += 1_400;
    expect(b.snapshot()).toEqual({ state: 'half-open', since: 12_000, reason: 'cool-down elapsed' });
    expect(b.admit()).toBeGreaterThan(0);
    expect(b.snapshot()).toEqual({ state: 'half-open', since: 12_000, reason: 'cool-down elapsed' });
    now += 100;
    b.success();
    expect(b.snapshot()).toEqual({ state: 'closed', since: 12_500, reason: 'request succeeded' });
  });

  it('keeps the time it first opened while the health checker keeps it open', () => {
    let now = 0;
    const b = new CircuitBreaker({ failureThreshold: 5, openMs: 1_000 }, () => {}, () => now);
    now = 2_000;
    b.forceOpen('health check failed: connect ECONNREFUSED 127.0.0.1:8101');
    for (let i = 0; i < 5; i++) {
      now += 900;
      b.forceOpen('health check failed: connect ECONNREFUSED 127.0.0.1:8101');
    }
    expect(b.snapshot()).toEqual({ state: 'open', since: 2_000, reason: 'health check failed: connect ECONNREFUSED 127.0.0.1:8101' });
    now += 100;
    b.forceClose('health check passed');
    expect(b.snapshot()).toEqual({ state: 'closed', since: 6_600, reason: 'health check passed' });
  });
});
