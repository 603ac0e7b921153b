/**
 * Back-pressure: when the queue side stalls (Redis reached through a TCP relay that stops
 * passing the reader's commands on), the reader stops reading the replication stream once it
 * holds CDC_MAX_HELD_EVENTS, instead of growing its memory with what the server keeps sending;
 * the server keeps the rest in the slot. When the queue side is back, everything arrives.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createLogger } from '@ficus/contracts';
import { afterAll, expect, inject, it } from 'vitest';
import { createTarget, compareTopic, startTargetConsumers } from '../../../test-support/cdc-target.js';
import { createTestDatabase } from '../../../test-support/databases.js';
import { boundedLoad } from '../../../test-support/legacy-load.js';
import { startScene, until, VIEWER_TOKEN, type Scene } from './support/cdc-scene.js';

/** A TCP relay to Redis that can hold back what clients send. */
async function stallableRelay(target: URL): Promise<{ url: string; stall(on: boolean): void; close(): Promise<void> }> {
  const clients = new Set<Socket>();
  let stalled = false;
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    clients.add(client);
    client.pipe(upstream);
    upstream.pipe(client);
    if (stalled) client.pause();
    const end = () => {
      clients.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    stall(on) {
      stalled = on;
      for (const c of clients) {
        if (on) c.pause();
        else c.resume();
      }
    },
    close: () => {
      for (const c of clients) c.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

let s: Scene;
afterAll(async () => {
  await s?.close();
});

it('stops reading at the high-water mark while the queues stall, and delivers everything once they are back', async () => {
  s = await startScene({ name: 'backpressure', seedPatients: 60 });
  const relay = await stallableRelay(new URL(inject('redisUrl')));
  const cdc = await s.start({ REDIS_URL: relay.url, CDC_MAX_HELD_EVENTS: '300', CDC_MAX_EVENTS_PER_JOB: '50', CDC_WRITEBACK_SERVICES: '' });
  const status = async () =>
    ((await (await fetch(`${cdc.url}/api/cdc/status`, { headers: { authorization: `Bearer ${VIEWER_TOKEN}` } })).json()) as { sources: { paused: boolean; heldEvents: number; lagBytes: number; state: string }[] }).sources[0]!;

  relay.stall(true);
  const written = await boundedLoad(s.legacyPool, { transactions: 300, concurrency: 3, rows: 10 }); // about 3,700 changes
  expect(written).toBe(300);
  const paused = await until(async () => {
    const st = await status();
    return st.paused && st;
  }, 'the reader to stop reading');
  // a little later it still holds about the high-water mark, not what the server has for it
  await new Promise((r) => setTimeout(r, 1_000));
  const later = await status();
  expect(later.paused).toBe(true);
  expect(later.heldEvents).toBeGreaterThanOrEqual(300);
  expect(later.heldEvents).toBeLessThan(1_500);
  expect(later.heldEvents).toBe(paused.heldEvents); // nothing more read meanwhile
  expect(later.lagBytes).toBeGreaterThan(0); // the rest waits in the slot
  expect(later.state).toBe('streaming');

  // the queue side is back: every change reaches a consumer
  const db = await createTestDatabase(inject('databaseUrl'), 'cdc_bp_target');
  const target = await createTarget(s.legacyPool, db.url, s.topics);
  const consumers = await startTargetConsumers({ connection: s.redis, pool: target, topics: s.topics, partitions: 8, log: createLogger('bp', { level: 'silent' }) });
  relay.stall(false);
  try {
    await until(async () => {
      for (const t of s.topics) {
        const c = await compareTopic(s.legacyPool, target, t);
        if (c.source.md5 !== c.target.md5) return false;
      }
      return true;
    }, 'the target to equal the source', 60_000);
    expect((await status()).paused).toBe(false);
    const metrics = await (await fetch(`${cdc.url}/metrics`)).text();
    expect(metrics).toMatch(/ficus_cdc_backpressure_total\{source="legacy-pg"\} [1-9]/);
  } finally {
    await Promise.all(consumers.map((c) => c.close()));
    await cdc.stop();
    await relay.close();
    await target.end();
    await db.drop();
  }
});
