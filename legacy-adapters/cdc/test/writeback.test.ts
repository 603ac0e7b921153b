/**
 * Write-back after a flip, with a stand-in service (a real database with the outbox table, its
 * own patients table fed by CDC, and a tiny writer): the service's outbox events reach the
 * legacy database through the outbox relay and the legacy writer; the legacy writer's
 * transactions come back through CDC tagged `ficus-writeback`, and the service skips them, so
 * nothing loops; a redelivered outbox event cannot overwrite a later legacy edit; data the
 * legacy schema refuses is dead-lettered with the reason, listed by the CDC API (no row values)
 * and discarded by an operator, on the record.
 */
import { Queue } from 'bullmq';
import pg from 'pg';
import type { QueueDeadLetterAction, QueueDeadLetters } from '@ficus/contracts/api';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger, partitionQueueName, type ChangeBatch, type ChangeEvent } from '@ficus/contracts';
import { cdcQueuePrefix, deadLetterQueueName, migrateOutbox, OutboxRelay, WRITEBACK_ORIGIN, writebackQueuePrefix, writeOutboxEvent, type PartitionedConsumer } from '@ficus/contracts/queues';
import { createTarget, startTargetConsumers, targetTable, type MirroredTopic } from '../../../test-support/cdc-target.js';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { OPERATOR_TOKEN, startScene, until, VIEWER_TOKEN, type CdcProcess, type Scene } from './support/cdc-scene.js';

const log = createLogger('cdc-writeback-test', { level: 'silent' });
let s: Scene;
let cdc: CdcProcess;
let serviceDb: TestDatabase;
let service: pg.Pool;
let relay: OutboxRelay;
let patients: MirroredTopic;
let consumers: PartitionedConsumer<ChangeBatch>[] = [];
const seen = { applied: 0, skipped: 0 };

async function startServiceConsumer(): Promise<void> {
  consumers = await startTargetConsumers({
    connection: s.redis,
    pool: service,
    topics: [patients],
    partitions: 8,
    log,
    ignoreOrigins: [WRITEBACK_ORIGIN],
    applied: (r) => {
      seen.applied += r.applied.length;
      seen.skipped += r.skipped;
    },
  });
}
const stopServiceConsumer = async () => Promise.all(consumers.map((c) => c.close()));

/** the service's own write: its row and its outbox event, in one transaction */
async function serviceWrites(op: 'create' | 'update' | 'delete', row: Record<string, unknown>, before: Record<string, unknown> | null = null): Promise<void> {
  const client = await service.connect();
  try {
    await client.query('BEGIN');
    const table = targetTable(patients.topic);
    if (op === 'delete') await client.query(`DELETE FROM ${table} WHERE mrn = $1`, [row.mrn]);
    else await client.query(`INSERT INTO ${table} SELECT * FROM jsonb_populate_record(null::${table}, $1::jsonb) ON CONFLICT (mrn) DO UPDATE SET "city" = excluded."city", "sex" = excluded."sex"`, [JSON.stringify(row)]);
    await writeOutboxEvent(client, { topic: patients.topic, op, key: { mrn: row.mrn }, before, after: op === 'delete' ? null : row });
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  relay.nudge();
}

const legacyPatient = async (mrn: string) => (await s.legacyPool.query<Record<string, string | null>>('SELECT * FROM patient_master WHERE pat_mrn = $1', [mrn])).rows[0];
const serviceRow = async (mrn: string) => (await service.query<Record<string, unknown>>(`SELECT * FROM ${targetTable(patients.topic)} WHERE mrn = $1`, [mrn])).rows[0];

async function waitingEvents(topic: string): Promise<ChangeEvent[]> {
  const all: ChangeEvent[] = [];
  for (let p = 0; p < 8; p++) {
    const q = new Queue<ChangeBatch>(partitionQueueName(cdcQueuePrefix(topic), p), { connection: s.redis });
    for (const j of await q.getJobs(['waiting'], 0, -1, true)) all.push(...j.data.events);
    await q.close();
  }
  return all;
}

beforeAll(async () => {
  s = await startScene({ name: 'writeback', seedPatients: 20 });
  patients = s.topics.find((t) => t.topic === s.topic('patients'))!;
  serviceDb = await createTestDatabase(inject('databaseUrl'), 'cdc_writeback_service');
  service = await createTarget(s.legacyPool, serviceDb.url, [patients]);
  await migrateOutbox(serviceDb.url);
  cdc = await s.start();
  relay = new OutboxRelay({ pool: service, connection: s.redis, service: s.service, partitions: 8, pollMs: 50, log }).start();
  // the service is fed by CDC (the snapshot) before the flip
  await startServiceConsumer();
  await until(async () => (await service.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${targetTable(patients.topic)}`)).rows[0]!.n === 20, 'the snapshot in the service');
});
afterAll(async () => {
  await relay?.close();
  await stopServiceConsumer();
  await cdc?.stop();
  await service?.end();
  await serviceDb?.drop();
  await s?.close();
});

describe('write-back', () => {
  it('applies the service\'s outbox events to the legacy database, and their echo does not loop', async () => {
    await stopServiceConsumer(); // to look at what CDC sends back before the service takes it
    const row = { ...(await serviceRow('100003')), city: 'WRITTEN BY SERVICE' };
    await serviceWrites('update', row);
    await until(async () => (await legacyPatient('100003'))?.city_nm === 'WRITTEN BY SERVICE', 'the legacy row written back');

    // CDC sees the legacy writer's transaction and tags it: not a legacy change
    const echo = await until(async () => (await waitingEvents(patients.topic)).find((e) => e.key.mrn === '100003' && e.op === 'update'), 'the echo');
    expect(echo.source.origin).toBe(WRITEBACK_ORIGIN);
    expect(echo.after).toMatchObject({ city: 'WRITTEN BY SERVICE' });

    const skippedBefore = seen.skipped;
    await startServiceConsumer();
    await until(() => seen.skipped > skippedBefore, 'the service to skip the echo');
    expect((await serviceRow('100003'))!.city).toBe('WRITTEN BY SERVICE');
    // nothing went round again: one outbox row, and the position of the key is still the snapshot's
    expect((await service.query<{ n: number }>('SELECT count(*)::int AS n FROM ficus_outbox')).rows[0]!.n).toBe(1);
    const pos = await service.query<{ position: string }>('SELECT position FROM ficus_change_positions WHERE topic = $1 AND key = $2', [patients.topic, '[["mrn","100003"]]']);
    expect(pos.rows[0]!.position).toMatch(/\/00000000$/);
    const metrics = await (await fetch(`${cdc.url}/metrics`)).text();
    expect(metrics).toMatch(/ficus_cdc_writeback_echo_transactions_total\{source="legacy-pg"\} 1\b/);
    expect(metrics).toMatch(new RegExp(`ficus_cdc_writeback_total\\{service="${s.service}",topic="${patients.topic}",outcome="applied"\\} 1\\b`));

    // a change made on the legacy screens still reaches the service
    await s.legacyPool.query("UPDATE PATIENT_MASTER SET CITY_NM = 'EDITED ON A LEGACY SCREEN' WHERE PAT_MRN = '100003'");
    await until(async () => (await serviceRow('100003'))!.city === 'EDITED ON A LEGACY SCREEN', 'the legacy edit in the service');
  });

  it('skips a redelivered outbox event: a later legacy edit stays', async () => {
    // the relay publishes the same row again (as after a crash between enqueue and mark)
    await service.query('UPDATE ficus_outbox SET published_at = NULL');
    relay.nudge();
    await until(async () => {
      const m = await (await fetch(`${cdc.url}/metrics`)).text();
      return new RegExp(`ficus_cdc_writeback_total\\{service="${s.service}",topic="${patients.topic}",outcome="skipped"\\} 1\\b`).test(m);
    }, 'the redelivery to be skipped');
    expect((await legacyPatient('100003'))!.city_nm).toBe('EDITED ON A LEGACY SCREEN');
  });

  it('an update carrying its before image writes only what the service changed: a legacy screen\'s edit of another column stays', async () => {
    const before = (await serviceRow('100005'))!;
    // a legacy screen changes the phone; the service, not knowing it yet, changes the city
    await s.legacyPool.query("UPDATE PATIENT_MASTER SET PHONE_NO = '555-0123' WHERE PAT_MRN = '100005'");
    await serviceWrites('update', { ...before, city: 'SERVICE CITY' }, before);
    await until(async () => (await legacyPatient('100005'))?.city_nm === 'SERVICE CITY', 'the city written back');
    expect(await legacyPatient('100005')).toMatchObject({ phone_no: '555-0123', pat_last_nm: before.lastName });

    // two updates of one patient in one job: what either changed is written
    const now = { ...before, city: 'SERVICE CITY' };
    const client = await service.connect();
    try {
      await client.query('BEGIN');
      await writeOutboxEvent(client, { topic: patients.topic, op: 'update', key: { mrn: '100005' }, before: now, after: { ...now, lastName: 'TWOSTEP' } });
      await writeOutboxEvent(client, { topic: patients.topic, op: 'update', key: { mrn: '100005' }, before: { ...now, lastName: 'TWOSTEP' }, after: { ...now, lastName: 'TWOSTEP', sex: 'U' } });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    relay.nudge();
    await until(async () => (await legacyPatient('100005'))?.sex_cd === 'U', 'the second update written back');
    expect(await legacyPatient('100005')).toMatchObject({ pat_last_nm: 'TWOSTEP', city_nm: 'SERVICE CITY', phone_no: '555-0123' });
  });

  it('creates and deletes legacy rows, and dead-letters what the legacy schema refuses', async () => {
    const base = (await serviceRow('100004'))!;
    const fresh = { ...base, mrn: '990001', lastName: 'NEWBORN', city: null, created: '2024-07-01T08:00:00', lastUpdated: '2024-07-01T08:00:00' };
    await serviceWrites('create', fresh);
    await until(async () => (await legacyPatient('990001'))?.pat_last_nm === 'NEWBORN', 'the created legacy row');
    expect(await legacyPatient('990001')).toMatchObject({ pat_mrn: '990001', city_nm: null, active_flg: base.active as string });
    await serviceWrites('delete', { mrn: '990001' });
    await until(async () => (await legacyPatient('990001')) === undefined, 'the deleted legacy row');

    await serviceWrites('update', { ...base, sex: 'Q' }); // the legacy CHECK allows M, F, U
    const dead = new Queue(deadLetterQueueName(partitionQueueName(writebackQueuePrefix(s.service), 0)), { connection: s.redis });
    const letters = await until(async () => {
      const all = [];
      for (let p = 0; p < 8; p++) {
        const q = new Queue<{ error: string }>(deadLetterQueueName(partitionQueueName(writebackQueuePrefix(s.service), p)), { connection: s.redis });
        all.push(...(await q.getJobs(['waiting'])).map((j) => j.data.error));
        await q.close();
      }
      return all.length > 0 && all;
    }, 'the dead letter');
    await dead.close();
    expect(letters[0]).toMatch(/^the legacy database refused the update of topic patients-\w+ \(legacy "public"\."patient_master"\) at position \d{20}, key \(mrn\): .*check constraint.* \(23514\); the job's other keys were applied$/);
    expect(letters[0]).not.toContain(String(base.lastName));
    expect((await legacyPatient('100004'))!.sex_cd).toBe(base.sex);

    // the CDC API lists it (a viewer may), without the row's values
    const call = (token: string, method: string, path: string, body?: unknown) =>
      fetch(cdc.url + path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const listing = (await (await call(VIEWER_TOKEN, 'GET', '/api/cdc/queues/dead-letters')).json()) as QueueDeadLetters;
    expect(listing.counts).toContainEqual({ prefix: writebackQueuePrefix(s.service), count: 1 });
    expect(listing.counts).toContainEqual({ prefix: cdcQueuePrefix(patients.topic), count: 0 });
    const [letter] = listing.deadLetters;
    expect(letter).toMatchObject({ queue: expect.stringMatching(new RegExp(`^${writebackQueuePrefix(s.service)}\\.p\\d$`)), error: expect.stringContaining('23514'), replaySafeUntil: null, summary: { events: 1, ops: { update: 1 } } });
    expect(JSON.stringify(letter)).not.toContain(String(base.lastName));
    expect((await call(VIEWER_TOKEN, 'POST', '/api/cdc/queues/dead-letters/discard', { queue: letter!.queue, id: letter!.id, reason: 'viewer tries' })).status).toBe(403);
    const unknown = await call(OPERATOR_TOKEN, 'POST', '/api/cdc/queues/dead-letters/replay', { queue: 'hl7.patient-service.p0', id: letter!.id, reason: 'wrong component' });
    expect([unknown.status, ((await unknown.json()) as { type: string }).type]).toEqual([404, 'https://ficus.dev/problems/unknown-queue']);
    // the operator settles it otherwise (the service's value was wrong) and discards it
    const discarded = await call(OPERATOR_TOKEN, 'POST', '/api/cdc/queues/dead-letters/discard', { queue: letter!.queue, id: letter!.id, reason: 'sex code corrected in the service' });
    expect(discarded.status).toBe(200);
    expect(((await discarded.json()) as QueueDeadLetterAction).letter.id).toBe(letter!.id);
    expect(((await (await call(VIEWER_TOKEN, 'GET', `/api/cdc/queues/dead-letters?prefix=${writebackQueuePrefix(s.service)}`)).json()) as QueueDeadLetters).counts).toEqual([{ prefix: writebackQueuePrefix(s.service), count: 0 }]);
    const store = new pg.Pool({ connectionString: s.store.url, max: 1 });
    const { rows } = await store.query<{ actor: string; action: string; outcome: string; reason: string }>("SELECT actor, action, outcome, reason FROM audit_log WHERE action LIKE 'cdc.dead-letter.%' ORDER BY id");
    await store.end();
    expect(rows.map((r) => [r.actor, r.action, r.outcome, r.reason])).toEqual([
      ['token:cdc-test-viewer', 'cdc.dead-letter.discard', 'denied', 'viewer tries'],
      ['token:cdc-test-operator', 'cdc.dead-letter.replay', 'refused', 'wrong component'],
      ['token:cdc-test-operator', 'cdc.dead-letter.discard', 'ok', 'sex code corrected in the service'],
    ]);
  });
});
