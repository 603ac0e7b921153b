/**
 * The key changes CDC reads are kept in Redis for the legacy writer (a write-back of the old key
 * goes to the new one), on a real Redis. Until 2026-12 they were one hash per source and topic
 * that never expired: every MRN ever renamed stayed there for good. Now each move is its own
 * entry that Redis expires after CDC_KEY_MOVE_RETENTION_DAYS (30) plus CDC_WRITEBACK_GONE_WAIT_MS,
 * the time within which a write-back of the old key can still reach the writer (a dead letter is
 * safe to replay within the services' SERVICE_DEDUP_RETENTION_DAYS, 30); a create of the old key
 * forgets its move at once, as before; the moves an older version kept in the hash get the full
 * life when the CDC starts.
 */
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CHANGE_EVENT_SCHEMA_VERSION, type ChangeEvent } from '@ficus/contracts';
import { keyMoveTtl, loadCdcConfig } from '../src/config.js';
import { adoptHashedKeyMoves, addKeyMoves, DEFAULT_KEY_MOVE_TTL_MS, keyMoveEntry, keyMoveTtlMs, movedTo } from '../src/publish/key-moves.js';
import { Publisher } from '../src/publish/publisher.js';

const DAY_MS = 86_400_000;
let redis: Redis;
const run = `t${process.pid}${Date.now().toString(36)}`;
let n = 0;
/** a source name of its own per test: the Redis is shared */
const sourceName = () => `key-moves-${run}-${++n}`;

beforeAll(() => {
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
});
afterAll(async () => {
  const keys = [...(await redis.keys(`ficus:cdc:key-move:key-moves-${run}-*`)), ...(await redis.keys(`ficus:cdc:key-moves:key-moves-${run}-*`))];
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

const event = (source: string, op: ChangeEvent['op'], mrn: string, moved: Pick<ChangeEvent, 'movedTo' | 'movedFrom'> = {}): ChangeEvent => ({
  schemaVersion: CHANGE_EVENT_SCHEMA_VERSION,
  topic: 'patients',
  op,
  key: { mrn },
  before: op === 'create' ? null : { mrn },
  after: op === 'delete' ? null : { mrn },
  ...moved,
  source: { system: 'postgres', name: source, database: 'legacy_his', schema: 'public', table: 'patient_master', position: '0/1', txId: '1', commitTime: null, origin: null },
});
const rename = (source: string, from: string, to: string) => [event(source, 'delete', from, { movedTo: { mrn: to } }), event(source, 'create', to, { movedFrom: { mrn: from } })];

async function record(events: ChangeEvent[], ttlMs?: number | null): Promise<void> {
  const multi = redis.multi();
  if (addKeyMoves(multi, events, ttlMs)) await multi.exec();
}

describe('key changes kept for the legacy writer', () => {
  it('expire after their life, in Redis itself: the writer finds the move within it and not after', async () => {
    const source = sourceName();
    await record(rename(source, '8000001', '8000002'), 2_000);
    expect(await movedTo(redis, source, 'patients', { mrn: '8000001' })).toEqual({ mrn: '8000002' });
    const pttl = await redis.pttl(keyMoveEntry(source, 'patients', { mrn: '8000001' }));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(2_000);
    await sleep(2_300);
    expect(await movedTo(redis, source, 'patients', { mrn: '8000001' })).toBeUndefined();
    expect(await redis.keys(`ficus:cdc:key-move*:${source}:*`)).toEqual([]);
  });

  it('live 30 days and the gone-row wait by default, as configured, and for ever with 0 days', async () => {
    expect(DEFAULT_KEY_MOVE_TTL_MS).toBe(30 * DAY_MS + 300_000);
    expect(keyMoveTtl(loadCdcConfig({}))).toBe(30 * DAY_MS + 300_000);
    expect(keyMoveTtl(loadCdcConfig({ CDC_KEY_MOVE_RETENTION_DAYS: '45', CDC_WRITEBACK_GONE_WAIT_MS: '600000' }))).toBe(45 * DAY_MS + 600_000);
    expect(keyMoveTtl(loadCdcConfig({ CDC_KEY_MOVE_RETENTION_DAYS: '0' }))).toBeNull();
    expect(keyMoveTtlMs(1, 0)).toBe(DAY_MS);

    const source = sourceName();
    await record(rename(source, 'A1', 'B1'));
    const pttl = await redis.pttl(keyMoveEntry(source, 'patients', { mrn: 'A1' }));
    expect(pttl).toBeGreaterThan(30 * DAY_MS);
    expect(pttl).toBeLessThanOrEqual(30 * DAY_MS + 300_000);
    await record(rename(source, 'A2', 'B2'), null);
    expect(await redis.pttl(keyMoveEntry(source, 'patients', { mrn: 'A2' }))).toBe(-1);
  });

  it('are forgotten by a create of the old key, but not by one that came before the move in the same flush', async () => {
    const source = sourceName();
    await record([event(source, 'create', 'C1'), ...rename(source, 'C1', 'C2')], 60_000);
    expect(await movedTo(redis, source, 'patients', { mrn: 'C1' })).toEqual({ mrn: 'C2' });
    await record([event(source, 'create', 'C1')], 60_000);
    expect(await movedTo(redis, source, 'patients', { mrn: 'C1' })).toBeUndefined();
    // a chain: C2 moved on to C3; each move its own entry and life
    await record(rename(source, 'C2', 'C3'), 60_000);
    expect(await movedTo(redis, source, 'patients', { mrn: 'C2' })).toEqual({ mrn: 'C3' });
  });

  it('are written by the publisher with the life it is given, in the flush that enqueues the change', async () => {
    const source = sourceName();
    const publisher = new Publisher({ connection: redis, partitions: 2, maxEventsPerJob: 100, highWater: 1_000, lingerMs: 0, log: { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined } as never, flushed: () => undefined, keyMoveTtlMs: 5_000 });
    try {
      for (const e of rename(source, 'P1', 'P2')) publisher.add({ ...e, topic: `${source}-topic` });
      await publisher.drain();
      expect(await movedTo(redis, source, `${source}-topic`, { mrn: 'P1' })).toEqual({ mrn: 'P2' });
      const pttl = await redis.pttl(keyMoveEntry(source, `${source}-topic`, { mrn: 'P1' }));
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(5_000);
    } finally {
      await publisher.close();
      const queues = await redis.keys(`bull:cdc.${source}-topic.*`);
      if (queues.length > 0) await redis.del(...queues);
    }
  });

  it('kept for ever by an older version (one hash per topic) get the full life at start; a newer move stays, other sources are left alone', async () => {
    const source = sourceName();
    const other = sourceName();
    await redis.hset(`ficus:cdc:key-moves:${source}:patients`, '[["mrn","H1"]]', JSON.stringify({ mrn: 'H2' }), '[["mrn","H3"]]', JSON.stringify({ mrn: 'H4' }));
    await redis.hset(`ficus:cdc:key-moves:${source}:admissions`, '[["admissionId","7"]]', JSON.stringify({ admissionId: '8' }));
    await redis.hset(`ficus:cdc:key-moves:${other}:patients`, '[["mrn","H1"]]', JSON.stringify({ mrn: 'X' }));
    // recorded by this version before the old hash was taken over: it is the newer one
    await record(rename(source, 'H3', 'H5'), 60_000);

    // H3's old move went from the hash with the newer one: two taken over
    expect(await adoptHashedKeyMoves(redis, source, 120_000)).toBe(2);
    expect(await movedTo(redis, source, 'patients', { mrn: 'H1' })).toEqual({ mrn: 'H2' });
    expect(await movedTo(redis, source, 'patients', { mrn: 'H3' })).toEqual({ mrn: 'H5' });
    expect(await movedTo(redis, source, 'admissions', { admissionId: '7' })).toEqual({ admissionId: '8' });
    const pttl = await redis.pttl(keyMoveEntry(source, 'patients', { mrn: 'H1' }));
    expect(pttl).toBeGreaterThan(60_000);
    expect(pttl).toBeLessThanOrEqual(120_000);
    expect(await redis.exists(`ficus:cdc:key-moves:${source}:patients`, `ficus:cdc:key-moves:${source}:admissions`)).toBe(0);
    expect(await redis.hlen(`ficus:cdc:key-moves:${other}:patients`)).toBe(1);
    expect(await adoptHashedKeyMoves(redis, source, 120_000)).toBe(0);
  });

  it("kept by an older version are forgotten by a create of the old key read before they were taken over, and found by the writer until then", async () => {
    const source = sourceName();
    const hash = `ficus:cdc:key-moves:${source}:patients`;
    await redis.hset(hash, '[["mrn","K1"]]', JSON.stringify({ mrn: 'K2' }), '[["mrn","K3"]]', JSON.stringify({ mrn: 'K4' }));
    // the start has not taken the hash over yet (in the background, or it could not): the writer still needs its moves
    expect(await movedTo(redis, source, 'patients', { mrn: 'K3' })).toEqual({ mrn: 'K4' });
    // K1 is a row again before the hash is taken over: its old move must not come back with it
    await record([event(source, 'create', 'K1')], 60_000);
    expect(await movedTo(redis, source, 'patients', { mrn: 'K1' })).toBeUndefined();
    expect(await adoptHashedKeyMoves(redis, source, 120_000)).toBe(1);
    expect(await movedTo(redis, source, 'patients', { mrn: 'K1' })).toBeUndefined();
    expect(await movedTo(redis, source, 'patients', { mrn: 'K3' })).toEqual({ mrn: 'K4' });
    expect(await redis.exists(hash)).toBe(0);
  });

  it('kept by an older version give way to a newer move of the key: it alone is found, and it is not outlived by the old one', async () => {
    const source = sourceName();
    const hash = `ficus:cdc:key-moves:${source}:patients`;
    await redis.hset(hash, '[["mrn","M1"]]', JSON.stringify({ mrn: 'M2' }));
    await record(rename(source, 'M1', 'M3'), 1_000);
    expect(await movedTo(redis, source, 'patients', { mrn: 'M1' })).toEqual({ mrn: 'M3' });
    // the newer move's life is over before the old hash is taken over: the old move does not come back for another 30 days
    await sleep(1_200);
    expect(await adoptHashedKeyMoves(redis, source, 120_000)).toBe(0);
    expect(await movedTo(redis, source, 'patients', { mrn: 'M1' })).toBeUndefined();
  });
});
