/**
 * While Redis is down the CDC deployable says why the changes stopped. Its connection retries for
 * ever, so an enqueue waits instead of failing, and the publisher's "cannot enqueue" warning (written
 * for a failed enqueue) never came: with write-back off, a Redis outage of any length left not one
 * line in the CDC's log while the services' feeds went stale (found probing the demo, Redis stopped
 * for 12 s). Now a flush Redis has not taken after a few seconds is logged as waiting for Redis, and
 * its end once Redis is back; the change waited for arrives. From the same moment /readyz answers
 * 503 with since when and why, and `ficus cdc status` shows it (--strict fails), until Redis takes
 * the changes again (until 2026-12-07 /readyz stayed 200 with the source "streaming" into memory).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '@ficus/contracts';
import { startPrivateRedis, type PrivateRedis } from '../../../scripts/lib/local-services.js';
import { ROOT, startScene, until, VIEWER_TOKEN, type CdcProcess, type Scene } from './support/cdc-scene.js';
import { queuedEvents } from './support/queued-changes.js';

let s: Scene;
let cdc: CdcProcess;
let ownRedis: PrivateRedis;
let redisDir: string;

beforeAll(async () => {
  redisDir = mkdtempSync(path.join(tmpdir(), 'ficus-cdc-redis-log-'));
  ownRedis = await startPrivateRedis(redisDir, () => undefined);
  s = await startScene({ name: 'redis_outage_log', seedPatients: 2 });
  cdc = await s.start({ REDIS_URL: ownRedis.url, CDC_WRITEBACK_SERVICES: '' });
});

afterAll(async () => {
  await cdc?.kill9();
  await s?.close();
  await ownRedis?.stop();
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
});

interface Readyz {
  status: string;
  sources: { state: string }[];
  enqueue?: { waitingSince: string; reason: string };
}

const readyz = async (): Promise<{ code: number; body: Readyz }> => {
  const res = await fetch(`${cdc.url}/readyz`, { signal: AbortSignal.timeout(10_000) });
  return { code: res.status, body: (await res.json()) as Readyz };
};

/** `ficus cdc status` as a process, straight at this CDC's API (the path the admin API forwards) */
function ficus(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('FICUS_') && k !== 'NODE_OPTIONS') env[k] = v;
  Object.assign(env, { FICUS_ADMIN_URL: cdc.url, FICUS_TOKEN: VIEWER_TOKEN, HOME: s.env.FICUS_STATE_DIR! });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'cli/bin/ficus.js'), ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const wardChanges = async (redis: Redis, topic: string): Promise<ChangeEvent[]> => (await queuedEvents(redis, topic)).filter((e) => e.op === 'update');

describe('the CDC log while Redis is down', () => {
  it('says the change events wait for Redis, in the log, /readyz and ficus cdc status, and when they are enqueued again', async () => {
    expect((await readyz()).code).toBe(200);
    const stoppedAt = Date.now();
    await ownRedis.stop();
    await s.legacyPool.query("UPDATE WARD SET WARD_DESC = 'DURING THE OUTAGE' WHERE WARD_CD = 'ICU'");
    expect((await readyz()).code).toBe(200); // a moment without Redis is no outage yet
    const waiting = await until(() => /"level":"warn".*"waitedMs":\d+.*change events wait for Redis/.exec(cdc.output())?.[0], 'the warning');
    expect(waiting).toMatch(/"events":\d+/);
    expect(cdc.output()).not.toMatch(/DURING THE OUTAGE/); // counts, never values

    const notReady = await until(async () => {
      const r = await readyz();
      return r.code === 503 && r.body;
    }, '/readyz 503');
    const seenAt = Date.now();
    expect(notReady.sources[0]!.state).toBe('streaming'); // into memory: the source itself does not know
    expect(notReady.enqueue).toEqual({ waitingSince: expect.any(String), reason: expect.stringContaining('Redis has not taken the change events') });
    const since = Date.parse(notReady.enqueue!.waitingSince);
    expect(since).toBeGreaterThan(stoppedAt - 2_000);
    expect(seenAt - since).toBeGreaterThanOrEqual(5_000);

    const shown = await ficus(['cdc', 'status']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`warning: change events wait for Redis since ${notReady.enqueue!.waitingSince} (Redis has not taken the change events`);
    const strict = await ficus(['cdc', 'status', '--strict']);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain(`change events wait for Redis since ${notReady.enqueue!.waitingSince}`);

    await ownRedis.start();
    await until(() => /"level":"info".*change events enqueued again/.test(cdc.output()), 'the end of the wait');
    const ready = await until(async () => {
      const r = await readyz();
      return r.code === 200 && r.body;
    }, '/readyz 200 again');
    expect(ready.enqueue).toBeUndefined();
    const redis = new Redis(ownRedis.url, { maxRetriesPerRequest: null });
    try {
      const changes = await until(async () => {
        const c = await wardChanges(redis, s.topic('wards'));
        return c.length > 0 && c;
      }, 'the change on its queue');
      expect(changes.map((e) => e.after?.description)).toEqual(['DURING THE OUTAGE']);
    } finally {
      redis.disconnect();
    }
  }, 60_000);
});
