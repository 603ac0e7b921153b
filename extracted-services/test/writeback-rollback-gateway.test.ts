/**
 * A rollback while a write-back is on its way, through the product's own path: a real gateway
 * on a rule store with its admin API, patient-service and results-service following that store
 * (`*_SYSTEM_OF_RECORD=rules`, told of flips on Redis as shipped), the CDC deployable's legacy
 * writer reading who holds the record from the same store (CDC_WRITEBACK_RECORD_RULES as
 * shipped), the stand-in legacy. A client PUTs through the gateway, an operator flips
 * `patients-write` back to `legacy` with POST /api/rules/:id/flip, the client PUTs again
 * (now answered by the legacy), and the write-back of the first PUT lands after that:
 * writeback-rollback.test.ts drives the same race by a commit to the store and a restart.
 *
 * The writer is held (stopped) so that the write-back lands exactly when the test lets it; the
 * CDC reader's side is the stand-in, so the legacy's saves reach the services when the test
 * syncs them. The services check the store only rarely here (their notification is what makes
 * them follow a flip): a commit to the store that is not announced is a rollback a service has
 * not heard of yet when it reads the legacy's save (a late read), as after a lost notification.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { createLogger, keyText, openStore, type OpenStore, type RuleSet } from '@ficus/contracts';
import { adminClient, startStoreGateway, type AdminClient, type StoreGateway } from '../../gateway/test/support/store-gateway.js';
import { loadCdcConfig } from '../../legacy-adapters/cdc/src/config.js';
import { parseRecordRules, recordHoldersFromStore } from '../../legacy-adapters/cdc/src/writeback/record-holder.js';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { ask, type ServiceScene } from '../../test-support/service-scene.js';
import { minutes, oru } from './support/writeback-messages.js';
import { startWritebackScene, type WritebackScene } from './support/writeback-scene.js';

const log = createLogger('wb-rollback-gw-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });

// the upstreams' addresses come from FICUS_UPSTREAM_<NAME>_URL once the services listen
const RULE_FILES: Record<string, string> = {
  '00-upstreams.yaml': `upstreams:
  legacy: { url: "http://127.0.0.1:9", healthCheck: { intervalMs: 500, timeoutMs: 300 } }
  patient-service: { url: "http://127.0.0.1:9", healthCheck: { intervalMs: 500, timeoutMs: 300 } }
  results-service: { url: "http://127.0.0.1:9", healthCheck: { intervalMs: 500, timeoutMs: 300 } }
  legacy-hl7: { url: "mllp://127.0.0.1:9" }
`,
  '10-http.yaml': `http:
  - id: patients-read
    match: { methods: [GET], path: /api/patients/:mrn }
    mode: legacy
    target: patient-service
    sticky: { param: mrn }
  - id: patients-write
    match: { methods: [POST, PUT], paths: [/api/patients, /api/patients/:mrn] }
    mode: legacy
    target: patient-service
    sticky: { param: mrn }
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`,
  '20-hl7.yaml': `hl7:
  - id: lab-results
    match: { messageTypes: [ORU], triggerEvents: [R01] }
    mode: legacy
    target: results-service
  - id: hl7-default
    match: {}
    mode: legacy
`,
};

let storeDb: TestDatabase;
let control: OpenStore;
let dirs: string[] = [];
let wb: WritebackScene;
let scene: ServiceScene;
let gw: StoreGateway;
let admin: AdminClient;
let mrns: string[];

beforeAll(async () => {
  storeDb = await createTestDatabase(inject('databaseUrl'), 'svc_wb_rollback_gw_store');
  const [rulesDir, controlState, serviceState] = ['rules', 'control', 'services'].map((d) => mkdtempSync(path.join(tmpdir(), `ficus-wb-rollback-gw-${d}-`)));
  dirs = [rulesDir!, controlState!, serviceState!];
  for (const [f, yaml] of Object.entries(RULE_FILES)) writeFileSync(path.join(rulesDir!, f), yaml);
  // the store seeded before the services read it (they start on its rules)
  control = await openStore({ url: storeDb.url, rulesDir: rulesDir!, stateDir: controlState!, adminToken: undefined, bootstrapToken: false, log });
  const recordHolders = recordHoldersFromStore(control.store, parseRecordRules(loadCdcConfig({}).CDC_WRITEBACK_RECORD_RULES));
  wb = await startWritebackScene({
    prefix: 'svc_wb_rollback_gw',
    redis: 'own',
    services: ['patient-service', 'results-service'],
    patients: 8,
    seed: 7_490,
    rules: { storeUrl: storeDb.url, stateDir: serviceState!, checkMs: 600_000 },
    recordHolders,
  });
  scene = wb.scene;
  gw = await startStoreGateway({
    storeUrl: storeDb.url,
    redisUrl: scene.redisUrl,
    files: RULE_FILES,
    env: { FICUS_READ_AFTER_WRITE_MS: '0' },
    upstreamEnv: { FICUS_UPSTREAM_LEGACY_URL: scene.legacy.base, FICUS_UPSTREAM_PATIENT_SERVICE_URL: scene.patients.url, FICUS_UPSTREAM_RESULTS_SERVICE_URL: scene.results.url },
  });
  admin = adminClient(gw.adminUrl);
  const { rows } = await scene.legacy.pool.query<{ pat_mrn: string }>('SELECT PAT_MRN FROM PATIENT_MASTER ORDER BY PAT_MRN LIMIT 4');
  mrns = rows.map((r) => r.pat_mrn);
});
afterAll(async () => {
  await gw?.close();
  await wb?.close();
  await control?.close();
  await storeDb?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const servingVersion = async () => (JSON.parse((await ask(gw.url, '/readyz')).body) as { rules: { version?: number } }).rules.version;

/** An operator's flip through the admin API; answers once the gateway routes by it. */
async function flip(rule: string, mode: 'new' | 'legacy'): Promise<void> {
  const current = (await control.store.current())!;
  const res = await admin.post<{ version: number }>(`/api/rules/${rule}/flip`, { mode, reason: `test: ${rule} to ${mode}`, baseVersion: current.version });
  expect(res.status).toBe(200);
  await expect.poll(servingVersion, { timeout: 5_000 }).toBe(res.body.version);
}

/** A commit to the store nobody announces: the services go on by the rules they had until they look at the store again. */
async function unannounced(rule: string, mode: 'new' | 'legacy'): Promise<void> {
  const current = (await control.store.current())!;
  const all = (rules: RuleSet['http'] | NonNullable<RuleSet['hl7']>) => rules.map((r) => (r.id === rule ? { ...r, mode } : r));
  const ruleSet = { ...current.ruleSet, http: all(current.ruleSet.http), hl7: all(current.ruleSet.hl7 ?? []) } as RuleSet;
  await control.store.commit(current.version, ruleSet, 'test', `${rule} to ${mode}, not announced`, { kind: 'flip' } as never);
}

type Patient = { mrn: string; phone: string | null } & Record<string, unknown>;
const read = async (base: string, mrn: string) => {
  const a = await ask(base, `/api/patients/${mrn}`);
  expect(a.status).toBe(200);
  return JSON.parse(a.body) as Patient;
};
const pending = async (pool: pg.Pool, sql: string, key: string) => (await pool.query<{ f: string[] | null }>(sql, [key])).rows[0]!.f ?? [];
const patientPending = (mrn: string) => pending(scene.patients.pool, 'SELECT local_changed_fields AS f FROM patient WHERE mrn = $1', mrn);
const conflictsOf = async (pool: pg.Pool, topic: string, key: string) =>
  (await pool.query<{ reason: string }>('SELECT reason FROM ficus_change_conflicts WHERE topic = $1 AND key::jsonb = $2::jsonb ORDER BY id', [topic, key])).rows.map((r) => r.reason);
const unpublished = async (pool: pg.Pool) => (await pool.query('SELECT 1 FROM ficus_outbox WHERE published_at IS NULL')).rowCount;
/** A client's PUT of a new phone through the gateway (the record as the gateway reads it): answers the rule and upstream that took it. */
async function putPhone(mrn: string, phone: string): Promise<string | null> {
  const now = await read(gw.url, mrn);
  const res = await fetch(`${gw.url}/api/patients/${mrn}`, { method: 'PUT', headers: { 'content-type': 'application/json', 'x-user-id': 'nurse' }, body: JSON.stringify({ ...now, phone }) });
  expect(res.status, await res.text()).toBe(200);
  return res.headers.get('x-ficus-route');
}

/** what the legacy committed since the last sync reaches the service, and is taken */
async function synced(topic: 'patients' | 'lab-results', o: { origin?: string } = {}): Promise<void> {
  const events = await scene.cdc.sync([topic], o);
  const pool = topic === 'patients' ? scene.patients.pool : scene.results.pool;
  const taken = async () => {
    const { rows } = await pool.query<{ key: string; position: string }>('SELECT key, position FROM ficus_change_positions WHERE topic = $1 AND key = ANY($2::text[])', [topic, events.map((e) => keyText(e.key))]);
    const at = new Map(rows.map((r) => [r.key, r.position]));
    return events.every((e) => at.get(keyText(e.key)) === e.source.position);
  };
  await expect.poll(taken, { timeout: 10_000 }).toBe(true);
}

/** The writer held until the returned function lets it go and waits for it to have taken every write-back handed to it. */
async function holdWriter(): Promise<() => Promise<void>> {
  await wb.stopWriter();
  let held = true;
  const release = async () => {
    if (!held) return;
    held = false;
    await wb.startWriter();
    for (const pool of [scene.patients.pool, scene.results.pool]) await expect.poll(() => unpublished(pool), { timeout: 10_000 }).toBe(0);
    await scene.drain();
  };
  onTestFinished(() => release());
  return release;
}

describe('patients-write rolled back through the admin API while a write-back of a PUT through the gateway is on its way', () => {
  it('the legacy\'s later save wins on the legacy, in patient-service and at the gateway, nothing pending, and later legacy edits apply', async () => {
    const mrn = mrns[0]!;
    // reads before writes, as the runbook says: the gateway's read is patient-service's
    await flip('patients-read', 'new');
    await flip('patients-write', 'new');
    await expect.poll(() => scene.patients.systemOfRecord.current(), { timeout: 5_000 }).toBe('service');
    await synced('patients');
    const release = await holdWriter();
    expect(await putPhone(mrn, '217-555-6001')).toBe('patients-write; patient-service');
    expect(await patientPending(mrn)).toContain('phone');
    await expect.poll(() => unpublished(scene.patients.pool), { timeout: 10_000 }).toBe(0);
    await flip('patients-write', 'legacy');
    expect(await putPhone(mrn, '217-555-6002')).toBe('patients-write; legacy');
    // the legacy's save reaches patient-service, as a CDC reader streams it, before the write-back lands
    await synced('patients');
    expect((await read(scene.patients.url, mrn)).phone).toBe('217-555-6002');
    await release();
    await synced('patients', { origin: 'ficus-writeback' });
    expect((await read(scene.legacy.base, mrn)).phone).toBe('217-555-6002');
    expect((await read(scene.patients.url, mrn)).phone).toBe('217-555-6002');
    const atGateway = await ask(gw.url, `/api/patients/${mrn}`);
    expect(JSON.parse(atGateway.body)).toMatchObject({ phone: '217-555-6002' });
    expect(await patientPending(mrn)).toEqual([]);
    expect(await read(scene.patients.url, mrn)).toEqual(await read(scene.legacy.base, mrn));
    // a later edit on the legacy's side applies (not "patient-service kept its own phone")
    expect(await putPhone(mrn, '217-555-6003')).toBe('patients-write; legacy');
    await synced('patients');
    expect((await read(gw.url, mrn)).phone).toBe('217-555-6003');
    expect((await conflictsOf(scene.patients.pool, 'patients', JSON.stringify({ mrn }))).filter((r) => r.startsWith('patient-service kept its own'))).toEqual([]);
  });

  it('20 PUTs, the rollback after the tenth: the last acknowledged value wins on both sides, and later legacy edits apply', async () => {
    const mrn = mrns[1]!;
    await flip('patients-write', 'new');
    await expect.poll(() => scene.patients.systemOfRecord.current(), { timeout: 5_000 }).toBe('service');
    await synced('patients');
    const release = await holdWriter();
    const phone = (n: number) => `217-555-${String(6100 + n)}`;
    for (let n = 1; n <= 10; n++) expect(await putPhone(mrn, phone(n))).toBe('patients-write; patient-service');
    await expect.poll(() => unpublished(scene.patients.pool), { timeout: 10_000 }).toBe(0);
    await flip('patients-write', 'legacy');
    for (let n = 11; n <= 20; n++) {
      expect(await putPhone(mrn, phone(n))).toBe('patients-write; legacy');
      await synced('patients');
      expect((await read(gw.url, mrn)).phone).toBe(phone(n));
    }
    await release();
    await synced('patients', { origin: 'ficus-writeback' });
    expect((await read(scene.legacy.base, mrn)).phone).toBe(phone(20));
    expect((await read(scene.patients.url, mrn)).phone).toBe(phone(20));
    expect((await read(gw.url, mrn)).phone).toBe(phone(20));
    expect(await patientPending(mrn)).toEqual([]);
    expect(await putPhone(mrn, phone(21))).toBe('patients-write; legacy');
    await synced('patients');
    expect((await read(scene.patients.url, mrn)).phone).toBe(phone(21));
    expect(await read(scene.patients.url, mrn)).toEqual(await read(scene.legacy.base, mrn));
  });
});

describe('a rollback the service has not heard of yet when it reads the legacy\'s save (a late read): it looks at the store first', () => {
  it('patient-service: the legacy\'s save is taken, not kept off as a conflict', async () => {
    const mrn = mrns[2]!;
    await flip('patients-write', 'new');
    await expect.poll(() => scene.patients.systemOfRecord.current(), { timeout: 5_000 }).toBe('service');
    await synced('patients');
    const release = await holdWriter();
    expect(await putPhone(mrn, '217-555-6201')).toBe('patients-write; patient-service');
    await expect.poll(() => unpublished(scene.patients.pool), { timeout: 10_000 }).toBe(0);
    await unannounced('patients-write', 'legacy');
    expect(scene.patients.systemOfRecord.current()).toBe('service');
    const legacy = await read(scene.legacy.base, mrn);
    expect((await ask(scene.legacy.base, `/api/patients/${mrn}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...legacy, phone: '217-555-6202' }) })).status).toBe(200);
    await synced('patients');
    expect((await read(scene.patients.url, mrn)).phone).toBe('217-555-6202');
    expect(scene.patients.systemOfRecord.current()).toBe('legacy');
    await release();
    await synced('patients', { origin: 'ficus-writeback' });
    expect((await read(scene.legacy.base, mrn)).phone).toBe('217-555-6202');
    expect(await read(scene.patients.url, mrn)).toEqual(await read(scene.legacy.base, mrn));
    expect(await patientPending(mrn)).toEqual([]);
  });

  it('results-service: a screen\'s edit of a value an ORU in mode new changed, made after lab-results was rolled back, is kept on both sides', async () => {
    const mrn = mrns[3]!;
    const order = 'L74900001';
    type LabResult = { resultId: number; orderNumber: string; value: string | null; status: string } & Record<string, unknown>;
    const resultOf = async (base: string) => (JSON.parse((await ask(base, `/api/results?mrn=${mrn}`)).body) as { items: LabResult[] }).items.find((r) => r.orderNumber === order);
    await flip('lab-results', 'new');
    await expect.poll(() => scene.results.systemOfRecord.current(), { timeout: 5_000 }).toBe('service');
    await scene.sendHl7('results-service', oru(mrn, order, '5.9', 'F', minutes(5)), { legacyToo: false });
    await expect.poll(async () => (await resultOf(scene.legacy.base))?.value, { timeout: 15_000 }).toBe('5.9');
    // its echo, while the service holds the record, only ends the pending state (no position kept)
    await scene.cdc.sync(['lab-results'], { origin: 'ficus-writeback' });
    await scene.drain();
    const filed = (await resultOf(scene.legacy.base))!;
    const key = { resultId: String(filed.resultId) };
    const release = await holdWriter();
    await scene.sendHl7('results-service', oru(mrn, order, '4.2', 'C', minutes(6)), { legacyToo: false });
    await expect.poll(async () => (await resultOf(scene.results.url))?.value, { timeout: 10_000 }).toBe('4.2');
    await expect.poll(() => unpublished(scene.results.pool), { timeout: 10_000 }).toBe(0);
    await unannounced('lab-results', 'legacy');
    expect(scene.results.systemOfRecord.current()).toBe('service');
    // a legacy screen, the legacy holding the record again, saves another value
    await scene.legacy.pool.query('UPDATE LAB_RESULT SET RESULT_VAL = $2 WHERE RESULT_ID = $1', [filed.resultId, '6.3']);
    await synced('lab-results');
    // before, results-service went by the flip it knew: it kept 4.2 (pending for good) while the writer left 6.3 in the legacy
    expect((await resultOf(scene.results.url))?.value).toBe('6.3');
    expect(scene.results.systemOfRecord.current()).toBe('legacy');
    expect(await conflictsOf(scene.results.pool, 'lab-results', JSON.stringify(key))).toEqual([expect.stringContaining('the legacy, which holds the record, kept its own value')]);
    await release();
    await synced('lab-results', { origin: 'ficus-writeback' });
    expect(await resultOf(scene.legacy.base)).toMatchObject({ value: '6.3', status: 'C' });
    expect(await resultOf(scene.results.url)).toEqual(await resultOf(scene.legacy.base));
    expect(await pending(scene.results.pool, 'SELECT local_changed_fields AS f FROM lab_result WHERE id = $1', key.resultId)).not.toContain('value');
  });
});
