/**
 * A service following the rules that cannot read them (the rule store away, no last good copy:
 * a fresh pod during a store outage) does not know who holds the record. It used to answer
 * /readyz 200 UP all the same, assuming the legacy does, and after a cutover it entered the
 * load balancer's rotation refusing every write. Now it is not ready, saying why, until it
 * knows, from the store or from its last good copy.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger, openStore, type OpenStore, type RuleSet } from '@ficus/contracts';
import { loadPatientServiceConfig, startPatientService, type RunningPatientService } from '@ficus/patient-service';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';

const RULES_DIR = fileURLToPath(new URL('../../routing-rules', import.meta.url));
const log = createLogger('ready-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });
/** nothing listens on port 1 */
const AWAY = 'postgres://postgres@127.0.0.1:1/ficus_gateway';

let storeDb: TestDatabase;
let serviceDb: TestDatabase;
let control: OpenStore;
let stateDir: string;
const running: RunningPatientService[] = [];

beforeAll(async () => {
  storeDb = await createTestDatabase(inject('databaseUrl'), 'ready_store');
  serviceDb = await createTestDatabase(inject('databaseUrl'), 'ready_patients');
  stateDir = mkdtempSync(path.join(tmpdir(), 'ficus-ready-'));
  control = await openStore({ url: storeDb.url, rulesDir: RULES_DIR, stateDir, adminToken: undefined, bootstrapToken: false, log });
  // after the cutover: patient-service holds the record
  const current = (await control.store.current())!;
  const http = current.ruleSet.http.map((r) => (r.id === 'patients-write' ? { ...r, mode: 'new' } : r)) as RuleSet['http'];
  await control.store.commit(current.version, { ...current.ruleSet, http }, 'test', 'cutover', { kind: 'flip', summary: 'cutover' });
});
afterAll(async () => {
  for (const s of running) await s.close();
  await control?.close();
  await serviceDb?.drop();
  await storeDb?.drop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

async function start(storeUrl: string, dir: string): Promise<RunningPatientService> {
  const s = await startPatientService(
    loadPatientServiceConfig({
      DATABASE_URL: inject('databaseUrl'),
      PATIENT_SERVICE_DATABASE_URL: serviceDb.url,
      PATIENT_SERVICE_HOST: '127.0.0.1',
      PATIENT_SERVICE_PORT: '0',
      PATIENT_SERVICE_SYSTEM_OF_RECORD: 'rules',
      FICUS_STORE_URL: storeUrl,
      FICUS_STATE_DIR: dir,
      FICUS_RULES_CHECK_MS: '60000',
    }),
    log,
  );
  running.push(s);
  return s;
}

const ready = async (s: RunningPatientService) => {
  const res = await fetch(`${s.url}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('readiness of a service that follows the rules', () => {
  it('the store away and no last good copy: 503, saying why', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'ficus-ready-empty-'));
    try {
      const s = await start(AWAY, empty);
      const r = await ready(s);
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ status: 'DOWN', database: 'UP', systemOfRecordFrom: { from: 'rules', rulesVersion: null } });
      expect(r.body.why).toMatch(/^the rules are unknown \(the rule store has not answered and .*patient-service-last-good-rules\.json holds no last good copy\): whether patient-service or the legacy is the system of record is not known yet$/);
      await s.close();
      running.pop();
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('with the store: ready, the service the system of record; then, the store away, a restart is ready from the last good copy', async () => {
    const first = await start(storeDb.url, stateDir);
    expect(await ready(first)).toMatchObject({ status: 200, body: { status: 'UP', systemOfRecord: 'service' } });
    await first.close();
    running.pop();

    const restarted = await start(AWAY, stateDir);
    expect(await ready(restarted)).toMatchObject({ status: 200, body: { status: 'UP', systemOfRecord: 'service' } });
  });
});
