import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bucketOf, thresholdOf } from './canary.js';

const toNew = (key: string, percent: number, salt = 'ficus') => bucketOf(salt, key) < thresholdOf(percent);
const percentArb = fc.integer({ min: 0, max: 10_000 }).map((n) => n / 100);

describe('sticky canary split', () => {
  it('sends the same key to the same side every time at a fixed percent', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), percentArb, (key, percent) => {
        const first = toNew(key, percent);
        for (let i = 0; i < 3; i++) expect(toNew(key, percent)).toBe(first);
      }),
      { numRuns: 2_000 },
    );
  });

  it('raising the percent never moves a key back to legacy', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), percentArb, percentArb, (key, a, b) => {
        const [low, high] = a <= b ? [a, b] : [b, a];
        if (toNew(key, low)) expect(toNew(key, high)).toBe(true);
      }),
      { numRuns: 5_000 },
    );
  });

  it('0 % sends nobody and 100 % everybody', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (key) => {
        expect(toNew(key, 0)).toBe(false);
        expect(toNew(key, 100)).toBe(true);
      }),
    );
  });

  it('splits 10,000 keys within 2 points of the percent', () => {
    const mrns = Array.from({ length: 10_000 }, (_, i) => String(100_000 + i));
    for (const percent of [1, 5, 10, 20, 33.3, 50, 75, 90, 99]) {
      const observed = (100 * mrns.filter((k) => toNew(k, percent)).length) / mrns.length;
      expect(Math.abs(observed - percent), `at ${percent} %`).toBeLessThanOrEqual(2);
    }
  });

  it('splits random keys within 2 points too (any key format)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 24 }), { minLength: 10_000, maxLength: 10_000 }), percentArb, (keys, percent) => {
        const observed = (100 * keys.filter((k) => toNew(k, percent)).length) / keys.length;
        expect(Math.abs(observed - percent)).toBeLessThanOrEqual(2);
      }),
      { numRuns: 20 },
    );
  });

  it('a different salt gives an independent split', () => {
    const keys = Array.from({ length: 10_000 }, (_, i) => `K${i}`);
    const both = keys.filter((k) => toNew(k, 50, 'a') && toNew(k, 50, 'b')).length;
    expect(Math.abs(both / keys.length - 0.25)).toBeLessThan(0.02);
  });
});
