/**
 * The unresolved-conflicts gauge's read: one query per max age however many scrapes, shared by
 * scrapes that come while it runs, a failed read not kept, and the service's topics at 0. (The
 * queries themselves are tested on PostgreSQL in extracted-services/test/conflict-review.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { cachedUnresolved, type ConflictReview } from './conflict-review.js';

function counting(answers: (() => Promise<{ topic: string; count: number; oldest: string }[]>)[]) {
  let calls = 0;
  const review = { unresolved: () => answers[calls++]!() } as unknown as ConflictReview;
  return { review, calls: () => calls };
}

describe('cachedUnresolved', () => {
  it('asks once per max age, whatever the number of scrapes, and shows every topic', async () => {
    let now = 0;
    const r = counting([async () => [{ topic: 'patients', count: 3, oldest: '2026-12-07T20:00:00.000Z' }], async () => []]);
    const read = cachedUnresolved(r.review, ['patients', 'admissions'], 10_000, () => now);
    const storm = await Promise.all(Array.from({ length: 50 }, () => read()));
    expect(r.calls()).toBe(1);
    expect(storm[49]).toEqual([
      { topic: 'patients', count: 3, oldest: '2026-12-07T20:00:00.000Z' },
      { topic: 'admissions', count: 0, oldest: null },
    ]);
    now = 9_999;
    await read();
    expect(r.calls()).toBe(1);
    now = 10_000;
    expect(await read()).toEqual([
      { topic: 'patients', count: 0, oldest: null },
      { topic: 'admissions', count: 0, oldest: null },
    ]);
    expect(r.calls()).toBe(2);
  });

  it('does not keep a failed read: the next scrape asks again', async () => {
    const r = counting([() => Promise.reject(new Error('database down')), async () => [{ topic: 'lab-results', count: 1, oldest: '2026-12-07T20:00:00.000Z' }]]);
    const read = cachedUnresolved(r.review, [], 10_000, () => 0);
    await expect(read()).rejects.toThrow('database down');
    expect(await read()).toEqual([{ topic: 'lab-results', count: 1, oldest: '2026-12-07T20:00:00.000Z' }]);
    expect(r.calls()).toBe(2);
  });
});
