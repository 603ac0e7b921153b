/**
 * Break glass moves the system of record too. The emergency override file (the gateway's and the
 * HL7 adapter's) sends a rule's traffic to legacy whatever the rule store says; before 7 December
 * patient-service, following patients-write in mode new, went on holding the record meanwhile:
 * legacy edits older than its last local change were conflicts instead of applied, and the
 * write-back wrote its values over legacy screens' edits. Now, while the file names
 * patients-write (or says `all`), the legacy holds the record within a second of the file
 * appearing, with the rule store reachable or not, and the rules decide again once it is removed.
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger, openStore, type Logger, type OpenStore, type RuleSet } from '@ficus/contracts';
import { loadPatientServiceConfig, startPatientService, type RunningPatientService } from '@ficus/patient-service';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';

const RULES_DIR = fileURLToPath(new URL('../../routing-rules', import.meta.url));
const log = createLogger('emergency-sor-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });
/** nothing listens on port 1 */
const AWAY = 'postgres://postgres@127.0.0.1:1/ficus_gateway';
const HELD = 'rules: [patients-write]\nreason: patient-service loses writes since 02:10\nby: j.doe\n';

let storeDb: TestDatabase;
let serviceDb: TestDatabase;
let control: OpenStore;
let stateDir: string;
const running: RunningPatientService[] = [];

beforeAll(async () => {
  storeDb = await createTestDatabase(inject('databaseUrl'), 'emergency_sor_store');
  serviceDb = await createTestDatabase(inject('databaseUrl'), 'emergency_sor_patients');
  stateDir = mkdtempSync(path.join(tmpdir(), 'ficus-emergency-sor-'));
  control = await openStore({ url: storeDb.url, rulesDir: RULES_DIR, stateDir: mkdtempSync(path.join(tmpdir(), 'ficus-emergency-sor-store-')), adminToken: undefined, bootstrapToken: false, log });
  await commitMode('new');
});
afterAll(async () => {
  for (const s of running) await s.close();
  await control?.close();
  await serviceDb?.drop();
  await storeDb?.drop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

async function commitMode(mode: string): Promise<void> {
  const current = (await control.store.current())!;
  const http = current.ruleSet.http.map((r) => (r.id === 'patients-write' ? { ...r, mode } : r)) as RuleSet['http'];
  await control.store.commit(current.version, { ...current.ruleSet, http }, 'test', `patients-write to ${mode}`, { kind: 'flip', summary: mode });
}

/** the file in the service's state folder: FICUS_EMERGENCY_FILE's default */
const emergencyFile = (dir: string) => path.join(dir, 'emergency-legacy.yaml');

async function start(storeUrl: string, dir: string, logger: Logger = log): Promise<RunningPatientService> {
  const s = await startPatientService(
    loadPatientServiceConfig({
      DATABASE_URL: inject('databaseUrl'),
      PATIENT_SERVICE_DATABASE_URL: serviceDb.url,
      PATIENT_SERVICE_HOST: '127.0.0.1',
      PATIENT_SERVICE_PORT: '0',
      PATIENT_SERVICE_SYSTEM_OF_RECORD: 'rules',
      // only the rule store and the file matter here: no queues; the notifications are only listened to
      SERVICE_CONSUMERS: 'false',
      REDIS_URL: inject('redisUrl'),
      FICUS_STORE_URL: storeUrl,
      FICUS_STATE_DIR: dir,
      FICUS_RULES_CHECK_MS: '200',
    }),
    logger,
  );
  running.push(s);
  return s;
}
async function stop(s: RunningPatientService): Promise<void> {
  await s.close();
  running.splice(running.indexOf(s), 1);
}

const ready = async (s: RunningPatientService) => {
  const res = await fetch(`${s.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const metric = async (s: RunningPatientService, name: string) => (await (await fetch(`${s.url}/metrics`)).text()).match(new RegExp(`^${name}\\{service="patient-service"\\} (\\S+)$`, 'm'))?.[1];
const register = (s: RunningPatientService) =>
  fetch(`${s.url}/api/patients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-user-id': 'clerk' },
    body: JSON.stringify({ lastName: 'GLASS', firstName: 'TEST', dateOfBirth: '1980-02-02', sex: 'F' }),
  });

/** ms until the service says `want` */
async function until(s: RunningPatientService, want: 'legacy' | 'service'): Promise<number> {
  const t0 = Date.now();
  await expect.poll(() => s.systemOfRecord.current(), { timeout: 5_000, interval: 20 }).toBe(want);
  return Date.now() - t0;
}

describe('the emergency override file and the system of record', () => {
  it('the file naming patients-write gives the record to the legacy within a second, loudly; its removal gives it back', async () => {
    const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
    const s = await start(storeDb.url, stateDir, pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as (typeof lines)[number]) }));
    expect(s.systemOfRecord.current()).toBe('service');
    writeFileSync(emergencyFile(stateDir), HELD);
    // the watch sees it at once, the poll within a second (and 100 ms to see it is no longer being written)
    expect(await until(s, 'legacy')).toBeLessThan(1_500);
    const r = await ready(s);
    expect(r).toMatchObject({
      status: 200,
      body: {
        status: 'UP',
        systemOfRecord: 'legacy',
        systemOfRecordFrom: { systemOfRecord: 'legacy (emergency file)', from: 'emergency file', ruleMode: 'new', emergency: { override: { rules: ['patients-write'], by: 'j.doe', recordInLegacy: ['patients-write'] } } },
      },
    });
    expect(await metric(s, 'ficus_service_system_of_record')).toBe('0');
    expect(await metric(s, 'ficus_service_system_of_record_emergency')).toBe('1');
    expect((await register(s)).status).toBe(503);
    const warned = (msg: string) => lines.filter((l) => l.level === 40 && l.msg.startsWith(msg));
    expect(warned('EMERGENCY OVERRIDE applied')).toEqual([expect.objectContaining({ rules: ['patients-write'], recordInLegacy: ['patients-write'], by: 'j.doe' })]);
    expect(warned('system of record: the legacy, by the emergency override file')).toHaveLength(1);

    unlinkSync(emergencyFile(stateDir));
    expect(await until(s, 'service')).toBeLessThan(1_500);
    expect((await ready(s)).body).toMatchObject({ systemOfRecord: 'service', systemOfRecordFrom: { systemOfRecord: 'service', from: 'rules' } });
    expect(await metric(s, 'ficus_service_system_of_record_emergency')).toBe('0');
    expect((await register(s)).status).toBe(201);
    expect(warned('emergency override removed')).toHaveLength(1);
    await stop(s);
  });

  it('a write that comes before the watcher has read a new file is refused, saying which file (a service paused when it appeared)', async () => {
    const s = await start(storeDb.url, stateDir);
    try {
      expect(s.systemOfRecord.current()).toBe('service');
      writeFileSync(emergencyFile(stateDir), HELD);
      // at once: the watcher reads a new file no sooner than 150 ms after it changed (50 ms of
      // debounce, 100 ms to see it settled); before, this answered 201 and wrote the patient back
      const refused = await register(s);
      expect(refused.status).toBe(503);
      expect(await refused.json()).toEqual({
        errorCode: 'PAT-503',
        errorMessage: `Patients are written in the legacy system while the emergency override file ${emergencyFile(stateDir)} holds their record there (break glass); patient-service takes writes again once it is removed`,
      });
      expect(s.systemOfRecord.current()).toBe('legacy');
      unlinkSync(emergencyFile(stateDir));
      // and back as soon: the rules say new (fresh(): the regime a CDC job merges in)
      expect(await s.systemOfRecord.fresh()).toBe('service');
      expect((await register(s)).status).toBe(201);
      // refresh(): a CDC merge's second look, where a field both sides changed is decided
      writeFileSync(emergencyFile(stateDir), HELD);
      expect(await s.systemOfRecord.refresh()).toBe('legacy');
      unlinkSync(emergencyFile(stateDir));
      expect(await s.systemOfRecord.refresh()).toBe('service');
    } finally {
      rmSync(emergencyFile(stateDir), { force: true });
      await stop(s);
    }
  });

  it('`all` holds it too, unless the rule is retired (the gateway leaves those); a file naming other rules only, or a malformed one, changes nothing', async () => {
    const s = await start(storeDb.url, stateDir);
    try {
      writeFileSync(emergencyFile(stateDir), 'rules: [patients-read, adt-patient-events]\n');
      await sleep(1_500);
      expect(s.systemOfRecord.current()).toBe('service');
      expect((await ready(s)).body).toMatchObject({ systemOfRecordFrom: { from: 'rules', emergency: { override: { rules: ['patients-read', 'adt-patient-events'], recordInLegacy: [] } } } });
      writeFileSync(emergencyFile(stateDir), 'rules: all\n');
      await until(s, 'legacy');
      // refused: the override in force stays, as on the gateway
      writeFileSync(emergencyFile(stateDir), 'rules: []\n');
      await expect.poll(async () => ((await ready(s)).body.systemOfRecordFrom as { emergency?: { lastRefused?: unknown } }).emergency?.lastRefused, { timeout: 5_000 }).toBeDefined();
      expect(s.systemOfRecord.current()).toBe('legacy');
      writeFileSync(emergencyFile(stateDir), 'rules: all\n');
      await commitMode('retired');
      await until(s, 'service');
      await commitMode('new');
      await until(s, 'legacy');
      unlinkSync(emergencyFile(stateDir));
      await until(s, 'service');
      // no override in force: a malformed file is refused and the rules decide
      writeFileSync(emergencyFile(stateDir), 'rules: [patients-write\n');
      await sleep(1_500);
      expect(s.systemOfRecord.current()).toBe('service');
    } finally {
      rmSync(emergencyFile(stateDir), { force: true });
      await stop(s);
    }
  });

  it('the rule store unreachable: from its last good copy the service follows the file there and back', async () => {
    // the last good copy the first tests left in stateDir says patients-write is new
    const s = await start(AWAY, stateDir);
    try {
      expect(s.systemOfRecord.current()).toBe('service');
      writeFileSync(emergencyFile(stateDir), HELD);
      expect(await until(s, 'legacy')).toBeLessThan(1_500);
      expect((await register(s)).status).toBe(503);
      unlinkSync(emergencyFile(stateDir));
      await until(s, 'service');
    } finally {
      rmSync(emergencyFile(stateDir), { force: true });
      await stop(s);
    }
  });

  it('the rules unknown (store away, no last good copy): the file says who holds the record, so the service is ready', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'ficus-emergency-sor-empty-'));
    try {
      writeFileSync(emergencyFile(empty), HELD);
      const s = await start(AWAY, empty);
      expect(s.systemOfRecord.current()).toBe('legacy');
      expect(await ready(s)).toMatchObject({ status: 200, body: { status: 'UP', systemOfRecord: 'legacy', systemOfRecordFrom: { from: 'emergency file', rulesVersion: null } } });
      unlinkSync(emergencyFile(empty));
      // unknown again: not ready, saying why
      await expect.poll(async () => (await ready(s)).status, { timeout: 5_000 }).toBe(503);
      expect(s.systemOfRecord.current()).toBe('legacy');
      await stop(s);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
