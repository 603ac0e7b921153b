/**
 * Break glass and the write-back: the emergency override file names patients-write while the rule
 * store still says `new` (the store is the incident, or nobody could write the rollback). The
 * gateway sends the writes to the legacy, so the legacy holds the record in fact; before
 * 7 December patient-service and the CDC deployable's legacy writer went by the store alone: a
 * legacy screen's edit of a field the service had saved was a conflict in the service, and the
 * write-back of the service's save, landing after it, wrote over it. Now both read the same file
 * (the service's default $FICUS_STATE_DIR/emergency-legacy.yaml, the writer pointed at it as the
 * demo does): the legacy's edit stays on both sides (legacy-kept), and once the file is removed
 * the store's `new` decides again.
 *
 * The real parts: patient-service following a real rule store, with its outbox and relay; the
 * legacy writer (the shipped mapping, CDC_WRITEBACK_RECORD_RULES as shipped) on the legacy
 * database, held by stopping it; the legacy's own HTTP API for the legacy's save. The CDC
 * reader's side is the stand-in, so the legacy's save reaches the service when the test syncs it.
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { createLogger, keyText, openStore, type OpenStore, type RecordEmergencyFile, type RuleSet } from '@ficus/contracts';
import { loadCdcConfig } from '../../legacy-adapters/cdc/src/config.js';
import { parseRecordRules, recordHoldersFromStore, watchRecordEmergency } from '../../legacy-adapters/cdc/src/writeback/record-holder.js';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { ask, type ServiceScene } from '../../test-support/service-scene.js';
import { startWritebackScene, syncedInto, type WritebackScene } from './support/writeback-scene.js';

const RULES_DIR = fileURLToPath(new URL('../../routing-rules', import.meta.url));
const log = createLogger('emergency-wb-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const HELD = 'rules: [patients-write]\nreason: the rule store is down and patient-service loses writes\nby: j.doe\n';

let wb: WritebackScene;
let scene: ServiceScene;
let storeDb: TestDatabase;
let control: OpenStore;
let dirs: string[] = [];
let file: string;
let emergency: RecordEmergencyFile;
let mrns: string[];

beforeAll(async () => {
  storeDb = await createTestDatabase(inject('databaseUrl'), 'svc_emergency_wb_store');
  const [controlState, serviceState] = ['control', 'services'].map((d) => mkdtempSync(path.join(tmpdir(), `ficus-emergency-wb-${d}-`)));
  dirs = [controlState!, serviceState!];
  file = path.join(serviceState!, 'emergency-legacy.yaml');
  control = await openStore({ url: storeDb.url, rulesDir: RULES_DIR, stateDir: controlState!, adminToken: undefined, bootstrapToken: false, log });
  const current = (await control.store.current())!;
  const http = current.ruleSet.http.map((r) => (r.id === 'patients-write' ? { ...r, mode: 'new' } : r)) as RuleSet['http'];
  await control.store.commit(current.version, { ...current.ruleSet, http }, 'test', 'cutover', { kind: 'flip', summary: 'cutover' });
  // as cdc-service.ts does with FICUS_EMERGENCY_FILE
  const recordRules = parseRecordRules(loadCdcConfig({}).CDC_WRITEBACK_RECORD_RULES);
  emergency = watchRecordEmergency(file, recordRules, log);
  await emergency.load();
  emergency.start();
  const recordHolders = recordHoldersFromStore(control.store, recordRules, emergency);
  wb = await startWritebackScene({
    prefix: 'svc_emergency_wb',
    redis: 'own',
    services: ['patient-service'],
    patients: 4,
    seed: 7_510,
    rules: { storeUrl: storeDb.url, stateDir: serviceState!, checkMs: 500 },
    recordHolders,
  });
  scene = wb.scene;
  const { rows } = await scene.legacy.pool.query<{ pat_mrn: string }>('SELECT PAT_MRN FROM PATIENT_MASTER ORDER BY PAT_MRN LIMIT 2');
  mrns = rows.map((r) => r.pat_mrn);
});
afterAll(async () => {
  await wb?.close();
  await emergency?.stop();
  await control?.close();
  await storeDb?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

type Patient = { mrn: string; phone: string | null } & Record<string, unknown>;
const servicePatient = async (mrn: string) => JSON.parse((await ask(scene.patients.url, `/api/patients/${mrn}`)).body) as Patient;
const legacyPatient = async (mrn: string) => JSON.parse((await ask(scene.legacy.base, `/api/patients/${mrn}`)).body) as Patient;
const pending = async (mrn: string) => (await scene.patients.pool.query<{ f: string[] | null }>('SELECT local_changed_fields AS f FROM patient WHERE mrn = $1', [mrn])).rows[0]!.f ?? [];
const conflictsOf = async (mrn: string) =>
  (await scene.patients.pool.query<{ reason: string }>('SELECT reason FROM ficus_change_conflicts WHERE key = $1 ORDER BY id', [JSON.stringify({ mrn })])).rows.map((r) => r.reason);
const published = async (mrn: string) =>
  (await scene.patients.pool.query("SELECT 1 FROM ficus_outbox WHERE topic = 'patients' AND after->>'mrn' = $1 AND published_at IS NULL", [mrn])).rowCount === 0;
const writtenBack = async (mrn: string) =>
  (await scene.legacy.pool.query("SELECT position FROM ficus_writeback_positions WHERE service = 'patient-service' AND topic = 'patients' AND key = $1", [keyText({ mrn })])).rows[0]?.position as
    | string
    | undefined;
const synced = (o: { origin?: string } = {}) => syncedInto(scene, 'patients', scene.patients.pool, o);

async function put(base: string, mrn: string, phone: string, headers: Record<string, string> = {}): Promise<void> {
  const now = JSON.parse((await ask(base, `/api/patients/${mrn}`)).body) as Patient;
  const res = await ask(base, `/api/patients/${mrn}`, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ ...now, phone }) });
  expect(res.status).toBe(200);
}

/** The writer held and the service's save of `ours` handed to the write-back queue; answers a function that lets the writer take it. */
async function savedAndHeld(mrn: string, ours: string): Promise<() => Promise<void>> {
  await expect.poll(() => scene.patients.systemOfRecord.current(), { timeout: 5_000 }).toBe('service');
  await wb.stopWriter();
  let held = true;
  const release = async () => {
    if (!held) return;
    held = false;
    const was = await writtenBack(mrn);
    await wb.startWriter();
    await expect.poll(async () => (await writtenBack(mrn)) !== was, { timeout: 15_000 }).toBe(true);
  };
  onTestFinished(() => release());
  await put(scene.patients.url, mrn, ours, { 'x-user-id': 'nurse' });
  expect(await pending(mrn)).toContain('phone');
  await expect.poll(() => published(mrn), { timeout: 10_000 }).toBe(true);
  return release;
}

describe('the emergency override file names patients-write while the store says new', () => {
  it('a legacy edit made meanwhile stays, in the legacy (legacy-kept) and in the service; without the file the store decides again', async () => {
    const mrn = mrns[0]!;
    const release = await savedAndHeld(mrn, '217-555-6001');
    onTestFinished(() => rmSync(file, { force: true }));
    writeFileSync(file, HELD);
    await expect.poll(() => scene.patients.systemOfRecord.current(), { timeout: 5_000 }).toBe('legacy');
    await expect.poll(() => emergency.pinned().has('patients-write'), { timeout: 5_000 }).toBe(true);
    // a legacy screen, where the gateway now sends the writes
    await put(scene.legacy.base, mrn, '217-555-6002');
    await synced();
    // the legacy holds the record: its edit of the service's pending phone wins
    expect((await servicePatient(mrn)).phone).toBe('217-555-6002');
    expect(await pending(mrn)).not.toContain('phone');
    await release();
    // before: the write-back of 6001 landed over the legacy's 6002
    expect((await legacyPatient(mrn)).phone).toBe('217-555-6002');
    await synced({ origin: 'ficus-writeback' });
    expect((await servicePatient(mrn)).phone).toBe('217-555-6002');
    const reasons = await conflictsOf(mrn);
    expect(reasons.filter((r) => r.startsWith('patient-service kept its own'))).toEqual([]);
    expect(await servicePatient(mrn)).toEqual(await legacyPatient(mrn));

    unlinkSync(file);
    await expect.poll(() => scene.patients.systemOfRecord.current(), { timeout: 5_000 }).toBe('service');
    await expect.poll(() => emergency.pinned().size, { timeout: 5_000 }).toBe(0);
  });

  it('once the file is removed, the service holds the record again: its save is written over a legacy edit it did not see (a recorded conflict), as before', async () => {
    const mrn = mrns[1]!;
    const release = await savedAndHeld(mrn, '217-555-6101');
    await scene.legacy.pool.query("UPDATE PATIENT_MASTER SET PHONE_NO = '217-555-6102' WHERE PAT_MRN = $1", [mrn]);
    await synced();
    expect((await servicePatient(mrn)).phone).toBe('217-555-6101');
    await release();
    expect((await legacyPatient(mrn)).phone).toBe('217-555-6101');
    expect((await conflictsOf(mrn)).some((r) => r.startsWith('patient-service kept its own phone'))).toBe(true);
  });
});
