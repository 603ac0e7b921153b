/**
 * While Redis is down the CDC deployable says why the changes stopped. Its connection retries for
 * ever, so an enqueue waits instead of failing, and the publisher's "cannot enqueue" warning (written
 * for a failed enqueue) never came: with write-back off, a Redis outage of any length left not one
 * line in the CDC's log while the services' feeds went stale (found probing the demo, Redis stopped
 * for 12 s). Now a flush Redis has not taken after a few seconds is logged as waiting for Redis, and
 * its end once Redis is back; the change waited for arrives.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '@ficus/contracts';
import { startPrivateRedis, type PrivateRedis } from '../../../scripts/lib/local-services.js';
import { startScene, until, type CdcProcess, type Scene } from './support/cdc-scene.js';
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

const wardChanges = async (redis: Redis, topic: string): Promise<ChangeEvent[]> => (await queuedEvents(redis, topic)).filter((e) => e.op === 'update');

describe('the CDC log while Redis is down', () => {
  it('says the change events wait for Redis, and when they are enqueued again', async () => {
    await ownRedis.stop();
    await s.legacyPool.query("UPDATE WARD SET WARD_DESC = 'DURING THE OUTAGE' WHERE WARD_CD = 'ICU'");
    const waiting = await until(() => /"level":"warn".*"waitedMs":\d+.*change events wait for Redis/.exec(cdc.output())?.[0], 'the warning');
    expect(waiting).toMatch(/"events":\d+/);
    expect(cdc.output()).not.toMatch(/DURING THE OUTAGE/); // counts, never values

    await ownRedis.start();
    await until(() => /"level":"info".*change events enqueued again/.test(cdc.output()), 'the end of the wait');
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
