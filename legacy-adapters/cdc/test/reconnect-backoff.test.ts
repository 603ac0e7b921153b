/**
 * The source's pause before reconnecting: doubling while the stream keeps breaking, back to the
 * shortest once it had run well for a while (it never ends without an error, so before this
 * the count of failures only grew, and after a few blips spread over days every reconnect
 * waited the longest pause).
 */
import { describe, expect, it } from 'vitest';
import { ReconnectBackoff } from '../src/postgres/reconnect-backoff.js';

describe('reconnect backoff', () => {
  it('doubles while the stream keeps breaking, up to 10 s', () => {
    const b = new ReconnectBackoff();
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(() => b.failed(0))).toEqual([500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
  });

  it('starts again from the shortest pause once the stream had run well for a minute', () => {
    const b = new ReconnectBackoff();
    let now = 0;
    // seven short-lived streams in a row: the longest pause
    for (let i = 0; i < 7; i++) {
      b.streaming(now);
      now += 1_000;
      b.failed(now);
    }
    expect(b.count).toBe(7);
    // a stream that ran for an hour, then a blip: the shortest pause again
    b.streaming(now);
    now += 3_600_000;
    expect(b.failed(now)).toBe(500);
    expect(b.count).toBe(1);
    // a stream that breaks at once afterwards keeps doubling
    b.streaming(now);
    expect(b.failed(now + 10)).toBe(1_000);
  });
});
