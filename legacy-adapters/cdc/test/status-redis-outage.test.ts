/**
 * GET /api/cdc/status answers while Redis is down, with what it knows: the CDC deployable (a
 * child process, write-back on) on a Redis of this file's own, which the test then stops. The
 * dead letter counts live in Redis, so they are null (unknown) and the status says Redis did not
 * answer; the source's state comes from PostgreSQL and is still there. Before, the write-back's
 * dead letter read waited for Redis for the whole outage and so did the answer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivateRedis, type PrivateRedis } from '../../../scripts/lib/local-services.js';
import { startScene, VIEWER_TOKEN, type CdcProcess, type Scene } from './support/cdc-scene.js';

let s: Scene;
let cdc: CdcProcess;
let ownRedis: PrivateRedis;
let redisDir: string;

interface Status {
  sources: { state: string }[];
  writeback: { enabled: boolean; deadLetters: number | null };
  consumerDeadLetters: unknown[] | null;
  warnings?: string[];
}

async function status(timeoutMs: number): Promise<{ ms: number; body: Status }> {
  const t0 = Date.now();
  const res = await fetch(`${cdc.url}/api/cdc/status`, { headers: { authorization: `Bearer ${VIEWER_TOKEN}` }, signal: AbortSignal.timeout(timeoutMs) });
  expect(res.status).toBe(200);
  return { ms: Date.now() - t0, body: (await res.json()) as Status };
}

beforeAll(async () => {
  redisDir = mkdtempSync(path.join(tmpdir(), 'ficus-cdc-redis-outage-'));
  ownRedis = await startPrivateRedis(redisDir, () => undefined);
  s = await startScene({ name: 'status_redis_outage' });
  cdc = await s.start({ REDIS_URL: ownRedis.url, LOG_LEVEL: 'warn' });
});

afterAll(async () => {
  await cdc?.kill9();
  await s?.close();
  await ownRedis?.stop();
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
});

describe('CDC status while Redis is down', () => {
  it('answers within a few seconds with the dead letter counts unknown, and says Redis did not answer', async () => {
    const before = await status(10_000);
    expect(before.body.writeback).toMatchObject({ enabled: true, deadLetters: 0 });
    expect(before.body.consumerDeadLetters).toEqual(expect.any(Array));
    expect(before.body.warnings ?? []).toEqual([]);

    await ownRedis.stop();
    for (let i = 0; i < 3; i++) {
      // a status polled through the outage: each answer within the bound, not only the first
      const during = await status(10_000);
      expect(during.ms).toBeLessThan(5_000);
      expect(during.body.sources[0]!.state).toBe('streaming');
      expect(during.body.writeback).toMatchObject({ enabled: true, deadLetters: null });
      expect(during.body.consumerDeadLetters).toBeNull();
      // and, once a flush has waited 5 s (heartbeats flush every second), that the change events wait for Redis
      expect(during.body.warnings?.[0]).toMatch(/^Redis did not answer/);
      for (const w of during.body.warnings!.slice(1)) expect(w).toMatch(/^change events wait for Redis since /);
    }
    // a Prometheus scrape too: answered within the bound, without the queue series Redis holds
    const started = Date.now();
    const scrape = await fetch(`${cdc.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    const text = await scrape.text();
    expect(scrape.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(text).toContain('ficus_cdc_source_streaming');
    expect(text).not.toMatch(/^ficus_cdc_queue_depth\{/m);
  }, 60_000);
});
