/**
 * kill -9 of the adapter in the middle of a 10,000-message stream. Eight senders (each with
 * its own patients, a few messages unacknowledged at a time) resend whatever was not
 * acknowledged when their connection died; the adapter runs as its own process, in mode dual
 * (a legacy inbound that applies each (facility, control id) once, as legacy's does, and a
 * BullMQ queue per partition for patient-service), and is killed twice with SIGKILL and started
 * again on the same ports and databases. Afterwards every message is stored exactly once,
 * applied exactly once by legacy, in send order per patient, and is exactly one job in the
 * queues, which a consumer with one worker per partition sees in send order per patient.
 * (The legacy system's own inbound is in legacy-inbound-down.test.ts: its log proves the same
 * there, at a volume its database work allows in a test.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Queue, Worker } from 'bullmq';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { freePort } from '../../../scripts/lib/local-services.js';
import { hl7Rules } from './support/adapter-harness.js';
import { startAdapterProcess, type AdapterProcess } from './support/adapter-process.js';
import { ResendingSender, type Outgoing } from './support/resending-sender.js';
import { TestInbound } from './support/test-inbound.js';

const PATIENTS = 200;
const PER_PATIENT = 50; // 10,000 messages
const SENDERS = 8;
const PARTITIONS = 8;
const KILL_AT = [2_500, 6_500];

const mrnOf = (p: number) => String(8_100_000 + p);
const controlId = (p: number, seq: number) => `K-${mrnOf(p)}-${seq}`;

/** A04 registers the patient, then A08s update it; PID-5.3 carries the sequence number, so the last one applied shows. */
function message(p: number, seq: number): Buffer {
  const trigger = seq === 0 ? 'A04' : 'A08';
  return Buffer.from(
    [
      `MSH|^~\\&|REGSYS|GENHOSP|HIS|GENHOSP|20240701083000||ADT^${trigger}^ADT_A01|${controlId(p, seq)}|P|2.5`,
      `EVN|${trigger}|20240701083000`,
      `PID|1||${mrnOf(p)}^^^GENHOSP^MR||CRASHTEST^PATIENT^S${seq}||19700101|F|||1 TEST ST^^SPRINGFIELD^IL^62701`,
    ].join('\r') + '\r',
    'latin1',
  );
}

let messageDb: TestDatabase;
let ruleDb: TestDatabase;
let legacy: TestInbound;
let dir: string;
let adapter: AdapterProcess | undefined;
const queuePrefix = `crash-${process.pid}`;

beforeAll(async () => {
  const server = inject('databaseUrl');
  [messageDb, ruleDb] = await Promise.all([createTestDatabase(server, 'crash_hl7'), createTestDatabase(server, 'crash_rules')]);
  legacy = new TestInbound();
  await legacy.start();
  dir = mkdtempSync(path.join(tmpdir(), 'ficus-crash-'));
  for (const [f, text] of Object.entries(hl7Rules(legacy.url, 'dual'))) writeFileSync(path.join(dir, f), text);
});
afterAll(async () => {
  await adapter?.kill();
  await legacy?.stop();
  await Promise.all([messageDb?.drop(), ruleDb?.drop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('kill -9 of the adapter during a 10,000-message stream', () => {
  it('stores each message exactly once and delivers it exactly once to legacy and to the queue, in order per patient', { timeout: 300_000 }, async () => {
    const [mllpPort, apiPort] = [await freePort(), await freePort()];
    const env = {
      HL7_HOST: '127.0.0.1',
      HL7_PORT: String(mllpPort),
      HL7_API_HOST: '127.0.0.1',
      DATABASE_URL: inject('databaseUrl'),
      HL7_DATABASE_URL: messageDb.url,
      FICUS_STORE_URL: ruleDb.url,
      REDIS_URL: inject('redisUrl'),
      FICUS_RULES_SOURCE: 'files',
      FICUS_RULES_DIR: dir,
      FICUS_STATE_DIR: path.join(dir, 'state'),
      HL7_PARTITIONS: String(PARTITIONS),
      HL7_QUEUE_PREFIX: queuePrefix,
      HL7_DISPATCH_POLL_MS: '100',
      HL7_LEGACY_ACK_TIMEOUT_MS: '5000',
      HL7_MAX_BACKOFF_MS: '500',
    };
    const started = Date.now();
    adapter = await startAdapterProcess(env, apiPort);

    // each sender has its own patients, sent interleaved: a patient's messages go in order on one connection
    const streams: Outgoing[][] = Array.from({ length: SENDERS }, () => []);
    for (let seq = 0; seq < PER_PATIENT; seq++) {
      for (let p = 0; p < PATIENTS; p++) streams[p % SENDERS]!.push({ controlId: controlId(p, seq), bytes: message(p, seq) });
    }
    const senders = streams.map((s) => new ResendingSender(mllpPort, s, 10));
    const sending = Promise.all(senders.map((s) => s.run()));
    const acked = () => senders.reduce((n, s) => n + s.acked, 0);

    const killedAt: number[] = [];
    for (const at of KILL_AT) {
      while (acked() < at) await sleep(10);
      killedAt.push(acked());
      await adapter.kill();
      adapter = await startAdapterProcess(env, apiPort);
    }
    await sending;
    const sentIn = Date.now() - started;
    expect(senders.flatMap((s) => s.problems)).toEqual([]);
    expect(acked()).toBe(PATIENTS * PER_PATIENT);

    // the store: every message once
    const db = new pg.Client({ connectionString: messageDb.url });
    await db.connect();
    try {
      const stored = await db.query<{ n: string; distinct_ids: string }>('SELECT count(*) AS n, count(DISTINCT control_id) AS distinct_ids FROM hl7_messages');
      expect(stored.rows[0]).toEqual({ n: '10000', distinct_ids: '10000' });
      // every delivery done: two per message (legacy, queue), none dead
      for (let i = 0; ; i++) {
        const { rows } = await db.query<{ status: string; n: string }>('SELECT status, count(*) AS n FROM hl7_deliveries GROUP BY status ORDER BY status');
        if (rows.length === 1 && rows[0]!.status === 'delivered') {
          expect(rows[0]!.n).toBe('20000');
          break;
        }
        if (i > 2_400) throw new Error(`deliveries not done: ${JSON.stringify(rows)}\n${adapter.output()}`);
        await sleep(50);
      }
    } finally {
      await db.end();
    }

    // legacy: each applied once (resends answered, not applied again), in send order per patient
    const applied = legacy.received.map((r) => r.controlId);
    expect(applied).toHaveLength(10_000);
    expect(new Set(applied).size).toBe(10_000);
    expect(inOrderPerPatient(applied)).toBe(true);

    // the queues: one job per message, and one worker per partition sees each patient's messages in send order
    const connection = { url: inject('redisUrl') };
    const queues = Array.from({ length: PARTITIONS }, (_, p) => new Queue(`hl7.patient-service.p${p}`, { connection, prefix: queuePrefix }));
    const consumed: string[] = [];
    const workers: Worker[] = [];
    try {
      const waiting = await Promise.all(queues.map((q) => q.getJobCounts('waiting', 'delayed', 'failed')));
      expect(waiting.reduce((n, c) => n + (c.waiting ?? 0), 0)).toBe(10_000);
      const perLane = queues.map(() => [] as string[]);
      for (let p = 0; p < PARTITIONS; p++) {
        workers.push(new Worker(`hl7.patient-service.p${p}`, async (job) => void perLane[p]!.push((job.data as { controlId: string }).controlId), { connection, prefix: queuePrefix, concurrency: 1 }));
      }
      while (perLane.reduce((n, l) => n + l.length, 0) < 10_000) await sleep(50);
      for (const lane of perLane) consumed.push(...lane);
      expect(perLane.every((lane) => inOrderPerPatient(lane))).toBe(true);
    } finally {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(queues.map((q) => q.obliterate({ force: true }).then(() => q.close())));
    }
    expect(consumed).toHaveLength(10_000);
    expect(new Set(consumed).size).toBe(10_000);

    const resent = senders.reduce((n, s) => n + s.written, 0) - 10_000;
    const legacyResends = legacy.frames - 10_000;
    console.log(
      `[measured] 10,000 acknowledged in ${(sentIn / 1000).toFixed(1)} s, three adapter starts included; killed at ${killedAt.join(' and ')} acknowledged; ` +
        `senders resent ${resent} frames over ${senders.reduce((n, s) => n + s.connections, 0)} connections; legacy answered ${legacyResends} resends without applying them`,
    );
    expect(killedAt.every((n) => n < 10_000)).toBe(true);
  });
});

/** true when, for each patient, its messages' sequence numbers only go up (control id K-<mrn>-<seq>) */
function inOrderPerPatient(controlIds: string[]): boolean {
  const last = new Map<string, number>();
  for (const id of controlIds) {
    const [, mrn, seq] = id.split('-') as [string, string, string];
    if ((last.get(mrn) ?? -1) >= Number(seq)) return false;
    last.set(mrn, Number(seq));
  }
  return true;
}
