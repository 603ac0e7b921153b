/**
 * The system of record following the rules: patient-service takes writes once patients-write
 * is in mode new (within a second of the commit, and at once for a write that comes before the
 * notification), refuses them again after a rollback, and hands what it writes to its outbox,
 * which the relay publishes on the write-back queues. HL7 changes are handed over only when
 * the legacy does not get the messages itself. Mode retired (the step after new) keeps all of
 * that: the legacy database still has readers, so write-back goes on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger, keyText, openStore, partitionOf, RULES_CHANNEL, type OpenStore, type RuleSet } from '@ficus/contracts';
import { writebackQueuePrefix } from '@ficus/contracts/queues';
import { loadPatientServiceConfig, startPatientService, type RunningPatientService } from '@ficus/patient-service';
import { readRules } from '@ficus/service-kit';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';

const RULES_DIR = fileURLToPath(new URL('../../routing-rules', import.meta.url));
const log = createLogger('sor-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const redisUrl = () => `${inject('redisUrl')}/7`;

const withModes = (rules: RuleSet, modes: Record<string, string>): RuleSet => ({
  ...rules,
  http: rules.http.map((r) => (modes[r.id] ? { ...r, mode: modes[r.id] } : r)) as RuleSet['http'],
  hl7: (rules.hl7 ?? []).map((r) => (modes[r.id] ? { ...r, mode: modes[r.id] } : r)) as RuleSet['hl7'],
});

describe('what the rules say', () => {
  const base: RuleSet = {
    upstreams: {},
    http: [{ id: 'patients-write', match: { methods: ['POST'], path: '/api/patients' }, mode: 'legacy', target: 'patient-service' }] as RuleSet['http'],
    hl7: [{ id: 'adt', match: { messageTypes: ['ADT'] }, mode: 'legacy', target: 'patient-service' }] as RuleSet['hl7'],
  };
  it('the service holds the record only while its record rule is new', () => {
    expect(readRules(base, 'patient-service', 'patients-write').systemOfRecord).toBe('legacy');
    expect(readRules(withModes(base, { 'patients-write': 'canary' }), 'patient-service', 'patients-write').systemOfRecord).toBe('legacy');
    expect(readRules(withModes(base, { 'patients-write': 'new' }), 'patient-service', 'patients-write').systemOfRecord).toBe('service');
    expect(readRules(withModes(base, { 'patients-write': 'new' }), 'patient-service', 'no-such-rule')).toMatchObject({ systemOfRecord: 'legacy', ruleMode: null });
  });
  it('the service still holds the record once its record rule is retired', () => {
    expect(readRules(withModes(base, { 'patients-write': 'retired' }), 'patient-service', 'patients-write')).toEqual({ systemOfRecord: 'service', legacyGetsHl7: false, ruleMode: 'retired' });
    expect(readRules(withModes(base, { 'patients-write': 'shadow' }), 'patient-service', 'patients-write').systemOfRecord).toBe('legacy');
  });
  it('the legacy gets the HL7 messages itself in mode dual', () => {
    expect(readRules(withModes(base, { adt: 'dual' }), 'patient-service', 'patients-write').legacyGetsHl7).toBe(true);
    expect(readRules(withModes(base, { adt: 'new' }), 'patient-service', 'patients-write').legacyGetsHl7).toBe(false);
    expect(readRules(withModes(base, { adt: 'dual' }), 'results-service', 'patients-write').legacyGetsHl7).toBe(false);
  });
});

describe('patient-service following patients-write in a real rule store', () => {
  let storeDb: TestDatabase;
  let serviceDb: TestDatabase;
  let control: OpenStore;
  let service: RunningPatientService;
  let redis: Redis;
  let stateDir: string;

  beforeAll(async () => {
    const server = inject('databaseUrl');
    storeDb = await createTestDatabase(server, 'sor_store');
    serviceDb = await createTestDatabase(server, 'sor_patients');
    stateDir = mkdtempSync(path.join(tmpdir(), 'ficus-sor-'));
    control = await openStore({ url: storeDb.url, rulesDir: RULES_DIR, stateDir, adminToken: undefined, bootstrapToken: false, log });
    redis = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    await redis.flushdb();
    service = await startPatientService(
      loadPatientServiceConfig({
        DATABASE_URL: server,
        PATIENT_SERVICE_DATABASE_URL: serviceDb.url,
        PATIENT_SERVICE_HOST: '127.0.0.1',
        PATIENT_SERVICE_PORT: '0',
        PATIENT_SERVICE_SYSTEM_OF_RECORD: 'rules',
        REDIS_URL: redisUrl(),
        FICUS_STORE_URL: storeDb.url,
        FICUS_STATE_DIR: stateDir,
        FICUS_RULES_CHECK_MS: '60000', // only the notification or a write's own look: no periodic check in this test
      }),
      log,
    );
  });
  afterAll(async () => {
    await service?.close();
    await control?.close();
    redis?.disconnect();
    await serviceDb?.drop();
    await storeDb?.drop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  async function commitModes(modes: Record<string, string>, announce: boolean): Promise<void> {
    const current = (await control.store.current())!;
    const v = await control.store.commit(current.version, withModes(current.ruleSet, modes), 'test', 'test', { kind: 'test' } as never);
    if (announce) await redis.publish(RULES_CHANNEL, JSON.stringify({ version: v.version }));
  }

  const register = (lastName: string) =>
    fetch(`${service.url}/api/patients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'clerk' },
      body: JSON.stringify({ lastName, firstName: 'TEST', dateOfBirth: '1980-02-02', sex: 'F' }),
    });

  it('refuses writes while the legacy holds the record', async () => {
    expect(service.systemOfRecord.current()).toBe('legacy');
    const res = await register('EARLY');
    expect(res.status).toBe(503);
    expect((await res.json()) as Record<string, unknown>).toMatchObject({ errorCode: 'PAT-503' });
  });

  it('takes a write that comes before the change notification, and hands it to the outbox and the write-back queue', async () => {
    await commitModes({ 'patients-write': 'new' }, false);
    const res = await register('FIRSTWRITE');
    expect(res.status).toBe(201);
    const { mrn } = (await res.json()) as { mrn: string };
    const { rows } = await service.pool.query<{ topic: string; op: string; key: unknown; after: { lastName: string } }>('SELECT topic, op, key, after FROM ficus_outbox ORDER BY id');
    expect(rows).toEqual([{ topic: 'patients', op: 'create', key: { mrn }, after: expect.objectContaining({ mrn, lastName: 'FIRSTWRITE' }) }]);
    const queue = new Queue(`${writebackQueuePrefix('patient-service')}.p${partitionOf(keyText({ mrn }), 8)}`, { connection: redis });
    try {
      const deadline = Date.now() + 10_000;
      let jobs = await queue.getJobs(['waiting', 'active', 'completed']);
      while (jobs.length === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        jobs = await queue.getJobs(['waiting', 'active', 'completed']);
      }
      expect(jobs.map((j) => (j.data as { events: { topic: string; key: unknown; source: { system: string } }[] }).events.map((e) => [e.topic, e.key, e.source.system]))).toEqual([[['patients', { mrn }, 'outbox']]]);
    } finally {
      await queue.close();
    }
  });

  it('keeps published outbox rows a week, then the relay deletes them', async () => {
    await expect.poll(async () => (await service.pool.query('SELECT 1 FROM ficus_outbox WHERE published_at IS NULL')).rowCount, { timeout: 10_000 }).toBe(0);
    expect(await service.outboxRelay!.purgePublished()).toBe(0);
    await service.pool.query("UPDATE ficus_outbox SET published_at = published_at - interval '8 days'");
    expect(await service.outboxRelay!.purgePublished()).toBe(1);
    expect((await service.pool.query('SELECT 1 FROM ficus_outbox')).rowCount).toBe(0);
  });

  it('follows a rollback within a second of its announcement', async () => {
    await commitModes({ 'patients-write': 'legacy' }, true);
    const start = Date.now();
    while (service.systemOfRecord.current() !== 'legacy' && Date.now() - start < 5_000) await new Promise((r) => setTimeout(r, 20));
    expect(service.systemOfRecord.current()).toBe('legacy');
    expect(Date.now() - start).toBeLessThan(1_000);
    expect((await register('AFTERROLLBACK')).status).toBe(503);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    expect(metrics).toContain('ficus_service_system_of_record{service="patient-service"} 0');
  });

  it('writes HL7 changes back only when the legacy does not get the messages itself', async () => {
    await commitModes({ 'patients-write': 'new', 'adt-patient-events': 'dual' }, true);
    await expect.poll(() => service.systemOfRecord.current(), { timeout: 5_000 }).toBe('service');
    expect(service.systemOfRecord.hl7WriteBack()).toBe(false);
    await commitModes({ 'adt-patient-events': 'new' }, true);
    await expect.poll(() => service.systemOfRecord.hl7WriteBack(), { timeout: 5_000 }).toBe(true);
  });

  it("for a job that does not say whether the legacy got it too: written back whenever no HL7 rule feeds the legacy, whoever holds the HTTP writes", async () => {
    await commitModes({ 'patients-write': 'legacy', 'adt-patient-events': 'new' }, true);
    await expect.poll(() => service.systemOfRecord.current(), { timeout: 5_000 }).toBe('legacy');
    // before 6 December: false, and an A01 in mode new reached the legacy never
    expect(service.systemOfRecord.hl7WriteBack()).toBe(true);
    await commitModes({ 'adt-patient-events': 'dual' }, true);
    await expect.poll(() => service.systemOfRecord.hl7WriteBack(), { timeout: 5_000 }).toBe(false);
    await commitModes({ 'adt-patient-events': 'new' }, true);
    await expect.poll(() => service.systemOfRecord.hl7WriteBack(), { timeout: 5_000 }).toBe(true);
  });

  it('retired, the last step: takes registrations and updates, and still writes them back', async () => {
    await commitModes({ 'patients-write': 'legacy' }, true);
    await expect.poll(() => service.systemOfRecord.current(), { timeout: 5_000 }).toBe('legacy');
    await service.pool.query('DELETE FROM ficus_outbox');
    // not announced: the write's own look at the store must find the retired rule
    await commitModes({ 'patients-write': 'retired' }, false);
    const created = await register('RETIREDWRITE');
    expect(created.status).toBe(201);
    const { mrn } = (await created.json()) as { mrn: string };
    const updated = await fetch(`${service.url}/api/patients/${mrn}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'x-user-id': 'clerk' },
      body: JSON.stringify({ lastName: 'RETIREDUPDATE', firstName: 'TEST', dateOfBirth: '1980-02-02', sex: 'F' }),
    });
    expect(updated.status).toBe(200);
    const { rows } = await service.pool.query<{ op: string; key: unknown; last_name: string }>("SELECT op, key, after->>'lastName' AS last_name FROM ficus_outbox ORDER BY id");
    expect(rows).toEqual([
      { op: 'create', key: { mrn }, last_name: 'RETIREDWRITE' },
      { op: 'update', key: { mrn }, last_name: 'RETIREDUPDATE' },
    ]);
    expect(service.systemOfRecord.hl7WriteBack()).toBe(true);
    const ready = (await (await fetch(`${service.url}/readyz`)).json()) as { systemOfRecord: string; systemOfRecordFrom: Record<string, unknown> };
    expect(ready).toMatchObject({ systemOfRecord: 'service', systemOfRecordFrom: { from: 'rules', rule: 'patients-write', ruleMode: 'retired' } });
    expect(await (await fetch(`${service.url}/metrics`)).text()).toContain('ficus_service_system_of_record{service="patient-service"} 1');
  });
});
