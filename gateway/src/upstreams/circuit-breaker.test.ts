import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type CircuitState } from './circuit-breaker.js';

function breaker() {
  let now = 0;
  const changes: CircuitState[] = [];
  const b = new CircuitBreaker({ failureThreshold: 3, openMs: 1_000 }, (s) => changes.push(s), () => now);
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
    expect(b.allow()).toBe(false);
    expect(changes).toEqual(['open']);
  });

  it('lets one trial through after the cool-down; its success closes, its failure re-opens', () => {
    const { b, advance } = breaker();
    for (let i = 0; i < 3; i++) b.failure('x');
    advance(1_000);
    expect(b.current).toBe('half-open');
    expect(b.allow()).toBe(true);
    expect(b.allow()).toBe(false); // one trial at a time
    b.failure('still down');
    expect(b.current).toBe('open');
    advance(1_000);
    expect(b.allow()).toBe(true);
    b.success();
    expect(b.current).toBe('closed');
    expect(b.allow()).toBe(true);
  });

  it('stays open while the health checker keeps finding the upstream down, and closes when it is back', () => {
    const { b, advance } = breaker();
    b.forceOpen('health check failed');
    for (let i = 0; i < 5; i++) {
      advance(900);
      b.forceOpen('health check failed again');
      expect(b.current).toBe('open');
      expect(b.allow()).toBe(false);
    }
    b.forceClose('health check passed');
    expect(b.current).toBe('closed');
  });
});
