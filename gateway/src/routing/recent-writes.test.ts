import { describe, expect, it } from 'vitest';
import { RecentWrites } from './recent-writes.js';

describe('RecentWrites', () => {
  it('holds a path for its time, then lets it go', () => {
    const w = new RecentWrites(1_000);
    w.remember('/api/patients/100001', 10_000);
    expect(w.isRecent('/api/patients/100001', 10_500)).toBe(true);
    expect(w.isRecent('/api/patients/100002', 10_500)).toBe(false);
    expect(w.isRecent('/api/patients/100001', 11_000)).toBe(false);
    expect(w.size).toBe(0);
  });

  it('a write again starts the time again, and expired paths are dropped as new ones come', () => {
    const w = new RecentWrites(1_000);
    w.remember('/a', 0);
    w.remember('/b', 500);
    w.remember('/a', 900);
    expect(w.isRecent('/a', 1_800)).toBe(true);
    w.remember('/c', 1_600);
    expect(w.size).toBe(2); // /b expired at 1,500
    expect(w.isRecent('/b', 1_600)).toBe(false);
  });

  it('remembers nothing when switched off', () => {
    const w = new RecentWrites(0);
    w.remember('/a', 0);
    expect(w.isRecent('/a', 0)).toBe(false);
    expect(w.enabled).toBe(false);
  });
});
