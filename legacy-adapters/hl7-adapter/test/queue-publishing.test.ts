/**
 * The publishing side of the new services' queues (the consumers live in the services), on a
 * Redis of this test's own (so that it can be stopped): a patient's messages are one lane, in
 * order, across the partition queues; a Redis outage while publishing leads to retries and
 * loses nothing; a plain resend adds no job while a replay adds one (`replay-<deliveryId>`),
 * also when it comes while the original delivery is still pending; a merge is published only
 * after what is older in the merged-away patient's lane, and holds its lanes until the service
 * is done with it. The metrics follow:
 * messages by type, direction and outcome, ACK latency, queue depth, pending deliveries, dead
 * letters.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue, Worker, type Job } from 'bullmq';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '@ficus/hl7-protocol';
import { startPrivateRedis, type PrivateRedis } from '../../../scripts/lib/local-services.js';
import { partitionOf } from '@ficus/contracts';
import { api, hl7Rules, startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient, syntheticMessage } from './support/mllp-test-client.js';
import { TestInbound } from './support/test-inbound.js';

const PARTITIONS = 8;

let redisDir: string;
let redis: PrivateRedis;
let inbound: TestInbound;
let a: AdapterUnderTest;
let queues: Queue[];

beforeAll(async () => {
  redisDir = mkdtempSync(path.join(tmpdir(), 'ficus-queue-redis-'));
  redis = await startPrivateRedis(redisDir, () => undefined, { persistent: true });
  inbound = new TestInbound();
  await inbound.start();
  // legacy refuses one message, for the dead-letter figures (AE: a bare AR means "not now", HL7_LEGACY_RETRY_ON)
  inbound.answer = (m) => (m.header.controlId === 'REFUSED-1' ? 'AE' : 'AA');
  a = await startAdapterUnderTest({ files: hl7Rules(inbound.url, 'dual'), env: { REDIS_URL: redis.url, HL7_QUEUE_TIMEOUT_MS: '1000' } });
  queues = Array.from({ length: PARTITIONS }, (_, p) => new Queue(`hl7.patient-service.p${p}`, { connection: { url: redis.url }, prefix: a.queuePrefix }));
  for (const q of queues) q.on('error', () => undefined);
});
afterAll(async () => {
  await Promise.all((queues ?? []).map((q) => q.close().catch(() => undefined)));
  await a?.close();
  await inbound?.stop();
  await redis?.stop();
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
});

const mrn = (p: number) => `QP${p}`;
const laneOf = (p: number) => partitionOf(mrn(p), PARTITIONS);

/** Sends each message on one connection per sender, waiting for each ACK. */
async function send(messages: string[][]): Promise<void> {
  await Promise.all(
    messages.map(async (list) => {
      const client = await MllpTestClient.open(a.adapter.port);
      for (const m of list) expect((await client.send(m)).get('MSA-1')).toBe('AA');
      client.close();
    }),
  );
}

/** Every job now in a lane's queue, in the order a worker would take them (waiting, oldest first). */
async function jobsOf(lane: number): Promise<Job[]> {
  return queues[lane]!.getJobs(['waiting'], 0, -1, true);
}

async function pendingCount(): Promise<number> {
  const r = await api<{ messages: unknown[] }>(a.apiUrl, 'GET', '/api/hl7/messages?delivery=pending&limit=1000');
  return r.body.messages.length;
}

async function metrics(): Promise<string> {
  return (await fetch(`${a.apiUrl}/metrics`)).text();
}

function metric(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('publishing to the new services\' queues', () => {
  it('puts each patient\'s messages in one partition queue, in order, one job per message; a consumer with one worker per partition sees them in order', async () => {
    // 24 patients over two senders, each patient on one sender, interleaved
    const patients = Array.from({ length: 24 }, (_, p) => p);
    const lists = [0, 1].map((s) => Array.from({ length: 10 }, (_, seq) => patients.filter((p) => p % 2 === s).map((p) => syntheticMessage({ controlId: `ORD-${p}-${seq}`, mrn: mrn(p), seq }))).flat());
    await send(lists);
    await until(async () => ((await pendingCount()) === 0 ? true : undefined), 'all published');

    expect(new Set(patients.map(laneOf)).size).toBeGreaterThanOrEqual(4);
    const before = await metrics();
    let total = 0;
    for (let lane = 0; lane < PARTITIONS; lane++) {
      const jobs = await jobsOf(lane);
      total += jobs.length;
      // the queue depth the adapter reports is BullMQ's
      expect(metric(before, 'ficus_hl7_queue_jobs', { queue: `hl7.patient-service.p${lane}`, state: 'waiting' })).toBe(jobs.length);
      for (const p of patients.filter((x) => laneOf(x) === lane)) {
        expect(jobs.filter((j) => j.data.controlId.startsWith(`ORD-${p}-`)).map((j) => j.data.controlId)).toEqual(Array.from({ length: 10 }, (_, seq) => `ORD-${p}-${seq}`));
      }
      expect(jobs.every((j) => j.id === `message-${j.data.messageId}` && j.data.replay === false)).toBe(true);
    }
    expect(total).toBe(240);

    // what a consumer sees: one worker per partition queue
    const seen: string[][] = Array.from({ length: PARTITIONS }, () => []);
    const workers = queues.map((q, lane) => new Worker(q.name, async (job) => void seen[lane]!.push(job.data.controlId as string), { connection: { url: redis.url }, prefix: a.queuePrefix, concurrency: 1 }));
    try {
      await until(() => (seen.flat().length === 240 ? true : undefined), 'consumed');
    } finally {
      await Promise.all(workers.map((w) => w.close()));
    }
    for (let p = 0; p < 24; p++) expect(seen[laneOf(p)]!.filter((id) => id.startsWith(`ORD-${p}-`))).toEqual(Array.from({ length: 10 }, (_, seq) => `ORD-${p}-${seq}`));
  });

  it('keeps publishing through a Redis outage: retries, nothing lost, order kept', async () => {
    const retriesBefore = metric(await metrics(), 'ficus_hl7_deliveries_total', { target: 'queue:patient-service', outcome: 'retry' });
    await send([Array.from({ length: 5 }, (_, seq) => syntheticMessage({ controlId: `OUT-0-${seq}`, mrn: mrn(100), seq }))]);
    await until(async () => ((await pendingCount()) === 0 ? true : undefined), 'published before the outage');

    await redis.stop();
    // acknowledged all the same: the store is PostgreSQL
    await send([Array.from({ length: 20 }, (_, seq) => syntheticMessage({ controlId: `OUT-1-${seq}`, mrn: mrn(100), seq: 5 + seq }))]);
    const head = await until(async () => {
      const r = await api<{ messages: { controlId: string; deliveries: { target: string; status: string; attempts: number; lastError: string | null }[] }[] }>(a.apiUrl, 'GET', '/api/hl7/messages?controlId=OUT-1-0');
      const d = r.body.messages[0]?.deliveries.find((x) => x.target === 'queue:patient-service');
      return d && d.attempts >= 2 ? d : undefined;
    }, 'retried while Redis is away');
    expect(head.status).toBe('pending');
    expect(head.lastError).toMatch(/Redis/);
    const during = await metrics();
    expect(metric(during, 'ficus_hl7_deliveries_total', { target: 'queue:patient-service', outcome: 'retry' })).toBeGreaterThan(retriesBefore);
    expect(metric(during, 'ficus_hl7_pending_deliveries', { target: 'queue:patient-service' })).toBe(20);

    await redis.start();
    await until(async () => ((await pendingCount()) === 0 ? true : undefined), 'published after the outage', 60_000);
    const jobs = (await jobsOf(laneOf(100))).filter((j) => j.data.controlId.startsWith('OUT-'));
    expect(jobs.map((j) => j.data.controlId)).toEqual([...Array.from({ length: 5 }, (_, s) => `OUT-0-${s}`), ...Array.from({ length: 20 }, (_, s) => `OUT-1-${s}`)]);
  });

  it('a plain resend adds no job; a replay adds one, replay-<deliveryId>, after the original even while that is pending', async () => {
    const lane = laneOf(200);
    const m = syntheticMessage({ controlId: 'RPL-1', mrn: mrn(200) });
    await send([[m]]);
    await until(async () => ((await pendingCount()) === 0 ? true : undefined), 'published');
    const jobsNow = async () => (await jobsOf(lane)).filter((j) => j.data.controlId === 'RPL-1');
    expect((await jobsNow()).map((j) => j.id)).toEqual([expect.stringMatching(/^message-\d+$/)]);

    await send([[m]]);
    const listed = await api<{ messages: { id: number; deliveries: unknown[] }[] }>(a.apiUrl, 'GET', '/api/hl7/messages?controlId=RPL-1');
    expect(listed.body.messages).toHaveLength(1);
    expect(listed.body.messages[0]!.deliveries).toHaveLength(2);
    expect(await jobsNow()).toHaveLength(1);

    const replay = await api<{ messages: number; deliveries: number }>(a.apiUrl, 'POST', '/api/hl7/replay', { messageId: listed.body.messages[0]!.id, target: 'queue:patient-service', reason: 'patient-service lost it' });
    expect(replay.body).toEqual({ messages: 1, deliveries: 1 });
    const after = await until(async () => {
      const jobs = await jobsNow();
      return jobs.length === 2 ? jobs : undefined;
    }, 'the replay published');
    const detail = await api<{ deliveries: { id: number; target: string; replay: boolean }[] }>(a.apiUrl, 'GET', `/api/hl7/messages/${listed.body.messages[0]!.id}`);
    const replayed = detail.body.deliveries.find((d) => d.replay && d.target === 'queue:patient-service')!;
    expect(after.map((j) => j.id)).toEqual([`message-${listed.body.messages[0]!.id}`, `replay-${replayed.id}`]);
    expect(after[1]!.data.replay).toBe(true);

    // a replay asked for while the original is still pending (Redis away) comes after it
    await redis.stop();
    const n = syntheticMessage({ controlId: 'RPL-2', mrn: mrn(200) });
    await send([[n]]);
    const id = (await api<{ messages: { id: number }[] }>(a.apiUrl, 'GET', '/api/hl7/messages?controlId=RPL-2')).body.messages[0]!.id;
    expect((await api(a.apiUrl, 'POST', '/api/hl7/replay', { messageId: id, reason: 'asked twice' })).status).toBe(200);
    await redis.start();
    await until(async () => ((await pendingCount()) === 0 ? true : undefined), 'both published', 60_000);
    const two = (await jobsOf(lane)).filter((j) => j.data.controlId === 'RPL-2');
    expect(two.map((j) => j.id)).toEqual([`message-${id}`, expect.stringMatching(/^replay-\d+$/)]);
    // and legacy got the original and the replay (which it answers as a resend)
    expect(inbound.received.filter((r) => r.controlId === 'RPL-2')).toHaveLength(1);
  });

  it("publishes a merge only after the older deliveries of the patient it merges away, held in that patient's lane, and what follows it only once the service is done with it", async () => {
    let survivor = 300;
    while (laneOf(survivor) === laneOf(301)) survivor++;
    const retired = mrn(301);
    const db = new pg.Client({ connectionString: a.messageDb.url });
    await db.connect();
    try {
      // the merged-away patient's update cannot be published now, and its lane is held (as a retry backoff would)
      await redis.stop();
      await send([[syntheticMessage({ controlId: 'QMRG-UPD', mrn: retired })]]);
      // after its failed attempt has been recorded: that attempt's own backoff would otherwise replace the hold
      const attempted = "SELECT d.attempts FROM hl7_deliveries d JOIN hl7_messages m ON m.id = d.message_id WHERE m.control_id = 'QMRG-UPD' AND d.target = 'queue:patient-service'";
      await until(async () => (((await db.query<{ attempts: number }>(attempted)).rows[0]?.attempts ?? 0) > 0 ? true : undefined), 'a failed publish of the update');
      await db.query("UPDATE hl7_deliveries d SET next_attempt_at = now() + interval '1 hour' FROM hl7_messages m WHERE m.id = d.message_id AND m.control_id = 'QMRG-UPD' AND d.target = 'queue:patient-service'");
      await redis.start();
      const merge = syntheticMessage({ controlId: 'QMRG-A40', mrn: mrn(survivor), trigger: 'A40' }).replace(/PV1\|[^\r]*\r/, `MRG|${retired}^^^GENHOSP^MR\r`);
      await send([[merge, syntheticMessage({ controlId: 'QMRG-AFTER', mrn: mrn(survivor) })]]);
      // legacy (dual mode) has them all: its lane of the merged-away patient is not held
      await until(() => (['QMRG-UPD', 'QMRG-A40', 'QMRG-AFTER'].every((id) => inbound.received.some((r) => r.controlId === id)) ? true : undefined), 'legacy has all three');
      await new Promise((r) => setTimeout(r, 1_000));
      const queued = async () =>
        (
          await db.query<{ control_id: string; status: string; attempts: number; delivered_at: Date | null }>(
            "SELECT m.control_id, d.status, d.attempts, d.delivered_at FROM hl7_deliveries d JOIN hl7_messages m ON m.id = d.message_id WHERE m.control_id LIKE 'QMRG-%' AND d.target = 'queue:patient-service' ORDER BY m.id",
          )
        ).rows;
      expect((await queued()).map((r) => [r.control_id, r.status])).toEqual([
        ['QMRG-UPD', 'pending'],
        ['QMRG-A40', 'pending'],
        ['QMRG-AFTER', 'pending'],
      ]);
      expect((await jobsOf(laneOf(survivor))).filter((j) => j.data.controlId.startsWith('QMRG-'))).toEqual([]);

      // the hold ends: the update is published, but the merge waits until the service has applied it (published is not applied)
      await db.query("UPDATE hl7_deliveries d SET next_attempt_at = now() FROM hl7_messages m WHERE m.id = d.message_id AND m.control_id = 'QMRG-UPD'");
      await until(async () => ((await jobsOf(laneOf(301))).some((j) => j.data.controlId === 'QMRG-UPD') ? true : undefined), 'the update published');
      await new Promise((r) => setTimeout(r, 1_000));
      expect((await queued()).map((r) => [r.control_id, r.status])).toEqual([
        ['QMRG-UPD', 'delivered'],
        ['QMRG-A40', 'pending'],
        ['QMRG-AFTER', 'pending'],
      ]);
      expect((await jobsOf(laneOf(survivor))).filter((j) => j.data.controlId.startsWith('QMRG-'))).toEqual([]);

      // the service consumes: the update, then the merge, then (once the service is done with the merge) what followed it
      const seen: string[] = [];
      const workers = queues.map((q) => new Worker(q.name, async (job) => void seen.push(job.data.controlId as string), { connection: { url: redis.url }, prefix: a.queuePrefix, concurrency: 1 }));
      try {
        const done = await until(async () => {
          const rows = await queued();
          return rows.every((r) => r.status === 'delivered') ? rows : undefined;
        }, 'all delivered');
        expect(done[0]!.delivered_at!.getTime()).toBeLessThanOrEqual(done[1]!.delivered_at!.getTime());
        await until(() => (seen.includes('QMRG-AFTER') ? true : undefined), 'the service took what followed the merge');
      } finally {
        await Promise.all(workers.map((w) => w.close()));
      }
      expect(seen.filter((id) => id.startsWith('QMRG-'))).toEqual(['QMRG-UPD', 'QMRG-A40', 'QMRG-AFTER']);
    } finally {
      await db.end();
    }
  });

  it('counts messages by direction, type and outcome, ACKs and their latency, and dead letters per target', async () => {
    const before = await metrics();
    const inbound0 = metric(before, 'ficus_hl7_messages_total', { direction: 'inbound', type: 'ORU', trigger: 'R01', outcome: 'accepted' });
    const client = await MllpTestClient.open(a.adapter.port);
    for (let i = 0; i < 3; i++) await client.send(syntheticMessage({ controlId: `MET-${i}`, mrn: 'QM1', type: 'ORU', trigger: 'R01' }));
    await client.send(syntheticMessage({ controlId: 'MET-0', mrn: 'QM1', type: 'ORU', trigger: 'R01' })); // a resend
    client.write(encodeFrame('garbage'));
    await client.next();
    await client.send(syntheticMessage({ controlId: 'REFUSED-1', mrn: 'QM2', trigger: 'A08' }));
    client.close();
    await until(async () => ((await pendingCount()) === 0 ? true : undefined), 'delivered');
    const after = await metrics();
    expect(metric(after, 'ficus_hl7_messages_total', { direction: 'inbound', type: 'ORU', trigger: 'R01', outcome: 'accepted' }) - inbound0).toBe(3);
    expect(metric(after, 'ficus_hl7_messages_total', { direction: 'inbound', type: 'ORU', trigger: 'R01', outcome: 'duplicate' })).toBeGreaterThanOrEqual(1);
    expect(metric(after, 'ficus_hl7_messages_total', { direction: 'inbound', type: 'unknown', outcome: 'rejected' })).toBeGreaterThanOrEqual(1);
    expect(metric(after, 'ficus_hl7_messages_total', { direction: 'outbound', type: 'ORU', trigger: 'R01', outcome: 'delivered' })).toBeGreaterThanOrEqual(6);
    expect(metric(after, 'ficus_hl7_acks_total', { code: 'AR' })).toBeGreaterThanOrEqual(1);
    expect(metric(after, 'ficus_hl7_acks_total', { code: 'AA' })).toBeGreaterThan(metric(before, 'ficus_hl7_acks_total', { code: 'AA' }));
    expect(Number(/^ficus_hl7_ack_seconds_count (\d+)/m.exec(after)?.[1])).toBeGreaterThan(Number(/^ficus_hl7_ack_seconds_count (\d+)/m.exec(before)?.[1]));
    expect(metric(after, 'ficus_hl7_dead_letters', { target: 'legacy:legacy-hl7' })).toBe(1);
    expect(metric(after, 'ficus_hl7_deliveries_total', { target: 'legacy:legacy-hl7', outcome: 'dead' })).toBe(1);
    expect(metric(after, 'ficus_hl7_pending_deliveries', { target: 'legacy:legacy-hl7' })).toBe(0);
    // no patient data in the metrics
    expect(after).not.toMatch(/QM1|TESTPATIENT|MET-0/);
  });
});
