import { describe, expect, it } from 'vitest';
import { FeedFreshness } from './feed-freshness.js';

describe('FeedFreshness', () => {
  it('is unknown until a heartbeat arrives', () => {
    expect(new FeedFreshness(['patients'], 2).lag(10_000)).toEqual({ lagMs: null, caughtUpTo: null, slowest: null });
  });

  it('is as fresh as the least fresh partition; one not heard from yet ages from its topic\'s first heartbeat', () => {
    const f = new FeedFreshness(['patients', 'wards'], 2);
    f.heard('patients', 0, 1_000);
    expect(f.lag(1_500)).toMatchObject({ lagMs: 500, slowest: { topic: 'patients', partition: 0 } });
    f.heard('patients', 0, 3_000);
    expect(f.lag(3_500)).toMatchObject({ lagMs: 2_500, slowest: { topic: 'patients', partition: 1 } });
    f.heard('patients', 1, 3_000);
    f.heard('patients', 1, 2_000); // a redelivered older one changes nothing
    expect(f.lag(3_500)).toMatchObject({ lagMs: 500, caughtUpTo: new Date(3_000).toISOString() });
  });

  it('leaves out a topic the CDC does not feed (no heartbeat ever)', () => {
    const f = new FeedFreshness(['patients', 'not-mapped'], 1);
    f.heard('patients', 0, 1_000);
    expect(f.lag(61_000).lagMs).toBe(60_000);
    f.heard('patients', 0, 61_000);
    expect(f.lag(61_100).lagMs).toBe(100);
  });
});
