import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { fixedSystemOfRecord } from '../runtime/system-of-record.js';
import type { SystemOfRecord } from '../runtime/service-env.js';
import { FeedFreshness } from './feed-freshness.js';
import { refuseStaleReads } from './stale-reads.js';

const apps: ReturnType<typeof Fastify>[] = [];
afterEach(async () => Promise.all(apps.splice(0).map((a) => a.close())));

async function serviceWith(regime: SystemOfRecord, caughtUpAgoMs: number | null, maxLagMs = 1_000) {
  const freshness = new FeedFreshness(['patients'], 1);
  if (caughtUpAgoMs !== null) freshness.heard('patients', 0, Date.now() - caughtUpAgoMs);
  const app = Fastify();
  apps.push(app);
  refuseStaleReads(app, { freshness, systemOfRecord: fixedSystemOfRecord(regime), maxLagMs });
  app.get('/api/patients/:mrn', async () => ({ mrn: '1' }));
  app.post('/api/patients', async () => ({ mrn: '2' }));
  app.get('/readyz', async () => ({ status: 'UP' }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return `http://127.0.0.1:${port}`;
}

describe('refuseStaleReads', () => {
  it('answers a read 503 x-ficus-stale while the legacy holds the record and the feed is behind; probes and writes go on', async () => {
    const base = await serviceWith('legacy', 5_000);
    const read = await fetch(`${base}/api/patients/1`);
    expect(read.status).toBe(503);
    expect(read.headers.get('x-ficus-stale')).toBe('feed-lag');
    expect(read.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await read.json()).toMatchObject({ status: 503, type: 'https://ficus.dev/problems/stale-feed' });
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/api/patients`, { method: 'POST' })).status).toBe(200);
  });

  it('serves reads when the feed is fresh, before any heartbeat, with the bound off, and while the service holds the record', async () => {
    for (const [regime, ago, max] of [['legacy', 100, 1_000], ['legacy', null, 1_000], ['legacy', 60_000, 0], ['service', 60_000, 1_000]] as const) {
      const res = await fetch(`${await serviceWith(regime, ago, max)}/api/patients/1`);
      expect(res.status, `${regime} ${ago} ${max}`).toBe(200);
    }
  });
});
