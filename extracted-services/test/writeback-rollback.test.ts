/**
 * A rollback of patients-write (new → legacy) while a write-back of patient-service's last save
 * is still on its way: the legacy, the system of record again, acknowledges a later save of the
 * same field before that write-back lands. The operator probe (3 of 3 runs): PUT 5001 to the
 * service, the flip back at once, PUT 5002 to the legacy 50 ms later; 8 s on, every side showed
 * 5001 and reconcile said clean. Before 7 December the writer wrote the service's field over the
 * legacy's save, and the service, still holding 5001 pending, refused every later legacy edit of
 * the field as "patient-service kept its own phone", for good.
 *
 * The real parts: patient-service with its outbox and relay, the CDC deployable's legacy writer
 * (the shipped mapping) on the legacy database, reading who holds the record from a real rule
 * store (CDC_WRITEBACK_RECORD_RULES as shipped), held by stopping it; the legacy's own HTTP API
 * for the legacy's save. The flip is a commit to the store and patient-service restarted with
 * the regime it then follows; the CDC reader's side is the stand-in, so the legacy's save
 * reaches the service exactly when the test syncs it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { createLogger, keyText, openStore, type OpenStore, type RuleSet } from '@ficus/contracts';
import { parseRecordRules, recordHoldersFromStore } from '../../legacy-adapters/cdc/src/writeback/record-holder.js';
import { loadCdcConfig } from '../../legacy-adapters/cdc/src/config.js';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { ask, type ServiceScene } from '../../test-support/service-scene.js';
import { startWritebackScene, type WritebackScene } from './support/writeback-scene.js';

const RULES_DIR = fileURLToPath(new URL('../../routing-rules', import.meta.url));
const log = createLogger('wb-rollback-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });

let wb: WritebackScene;
let scene: ServiceScene;
let storeDb: TestDatabase;
let control: OpenStore;
let stateDir: string;
let mrns: string[];

beforeAll(async () => {
  storeDb = await createTestDatabase(inject('databaseUrl'), 'svc_wb_rollback_store');
  stateDir = mkdtempSync(path.join(tmpdir(), 'ficus-wb-rollback-'));
  control = await openStore({ url: storeDb.url, rulesDir: RULES_DIR, stateDir, adminToken: undefined, bootstrapToken: false, log });
  const recordHolders = recordHoldersFromStore(control.store, parseRecordRules(loadCdcConfig({}).CDC_WRITEBACK_RECORD_RULES));
  wb = await startWritebackScene({ prefix: 'svc_wb_rollback', redis: 'own', services: ['patient-service'], patients: 6, seed: 7_480, systemOfRecord: 'service', recordHolders });
  scene = wb.scene;
  await flip('new');
  const { rows } = await scene.legacy.pool.query<{ pat_mrn: string }>('SELECT PAT_MRN FROM PATIENT_MASTER ORDER BY PAT_MRN LIMIT 3');
  mrns = rows.map((r) => r.pat_mrn);
});
afterAll(async () => {
  await wb?.close();
  await control?.close();
  await storeDb?.drop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

/** patients-write to `mode` in the store, and patient-service following it (as within a second it does) */
async function flip(mode: 'new' | 'legacy'): Promise<void> {
  const current = (await control.store.current())!;
  const ruleSet: RuleSet = { ...current.ruleSet, http: current.ruleSet.http.map((r) => (r.id === 'patients-write' ? { ...r, mode } : r)) as RuleSet['http'] };
  await control.store.commit(current.version, ruleSet, 'test', `patients-write to ${mode}`, { kind: 'flip' } as never);
  if (scene.patients.systemOfRecord.current() !== (mode === 'new' ? 'service' : 'legacy')) await scene.restart('patients', mode === 'new' ? 'service' : 'legacy');
}

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

async function put(base: string, mrn: string, phone: string, headers: Record<string, string> = {}): Promise<void> {
  const now = JSON.parse((await ask(base, `/api/patients/${mrn}`)).body) as Patient;
  const res = await ask(base, `/api/patients/${mrn}`, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ ...now, phone }) });
  expect(res.status).toBe(200);
}

/** what the legacy committed since the last sync reaches the service and is applied */
async function synced(o: { origin?: string } = {}): Promise<void> {
  const events = await scene.cdc.sync(['patients'], o);
  const taken = async () => {
    const { rows } = await scene.patients.pool.query<{ key: string; position: string }>("SELECT key, position FROM ficus_change_positions WHERE topic = 'patients' AND key = ANY($1::text[])", [
      events.map((e) => keyText(e.key)),
    ]);
    const at = new Map(rows.map((r) => [r.key, r.position]));
    return events.every((e) => at.get(keyText(e.key)) === e.source.position);
  };
  await expect.poll(taken, { timeout: 10_000 }).toBe(true);
}

/**
 * In mode new: the writer held, the service's save of `ours` handed to the write-back queue;
 * then the rollback and the legacy's save of `theirs`. Answers a function that lets the writer
 * go and waits until it has taken the held write-back.
 */
async function saveThenRollback(mrn: string, ours: string, theirs: string): Promise<() => Promise<void>> {
  await flip('new');
  await synced();
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
  await flip('legacy');
  await put(scene.legacy.base, mrn, theirs);
  return release;
}

describe('patients-write rolled back while the write-back of the service\'s last save is on its way', () => {
  it('the legacy\'s later save wins on both sides (its change read by the service before the write-back lands), and later legacy edits apply', async () => {
    const mrn = mrns[0]!;
    const release = await saveThenRollback(mrn, '217-555-5001', '217-555-5002');
    await synced();
    // the service's pending phone was changed in the legacy without its value: the legacy, holding the record, wins
    expect((await servicePatient(mrn)).phone).toBe('217-555-5002');
    expect(await pending(mrn)).not.toContain('phone');
    await release();
    await synced({ origin: 'ficus-writeback' });
    // before 7 December the write-back of 5001 landed over the legacy's acknowledged 5002, and the echo gave the service 5001 too
    expect((await legacyPatient(mrn)).phone).toBe('217-555-5002');
    expect((await servicePatient(mrn)).phone).toBe('217-555-5002');
    expect(await pending(mrn)).toEqual([]);
    // the second outcome: a later legacy edit applies (before, "patient-service kept its own phone", for good)
    await put(scene.legacy.base, mrn, '217-555-5003');
    await synced();
    expect((await servicePatient(mrn)).phone).toBe('217-555-5003');
    const reasons = await conflictsOf(mrn);
    expect(reasons.filter((r) => r.startsWith('patient-service kept its own'))).toEqual([]);
    expect(reasons.some((r) => r.startsWith('the legacy, which holds the record, kept its own') && r.includes('phone'))).toBe(true);
    expect(await servicePatient(mrn)).toEqual(await legacyPatient(mrn));
  });

  it('the same when the write-back is taken before the service reads the legacy\'s save', async () => {
    const mrn = mrns[1]!;
    const release = await saveThenRollback(mrn, '217-555-5101', '217-555-5102');
    await release();
    expect((await legacyPatient(mrn)).phone).toBe('217-555-5102');
    await synced();
    expect((await servicePatient(mrn)).phone).toBe('217-555-5102');
    expect(await pending(mrn)).toEqual([]);
    await put(scene.legacy.base, mrn, '217-555-5103');
    await synced();
    expect((await servicePatient(mrn)).phone).toBe('217-555-5103');
    expect(await servicePatient(mrn)).toEqual(await legacyPatient(mrn));
  });

  it('while the service holds the record its save is written over a legacy edit it did not see, as before (a recorded conflict in the service)', async () => {
    const mrn = mrns[2]!;
    await flip('new');
    await synced();
    await wb.stopWriter();
    let held = true;
    onTestFinished(async () => {
      if (held) await wb.startWriter();
    });
    await put(scene.patients.url, mrn, '217-555-5201', { 'x-user-id': 'nurse' });
    await expect.poll(() => published(mrn), { timeout: 10_000 }).toBe(true);
    // a legacy screen still in use, no rollback
    await scene.legacy.pool.query("UPDATE PATIENT_MASTER SET PHONE_NO = '217-555-5202' WHERE PAT_MRN = $1", [mrn]);
    await synced();
    expect((await servicePatient(mrn)).phone).toBe('217-555-5201');
    const was = await writtenBack(mrn);
    held = false;
    await wb.startWriter();
    await expect.poll(async () => (await writtenBack(mrn)) !== was, { timeout: 15_000 }).toBe(true);
    expect((await legacyPatient(mrn)).phone).toBe('217-555-5201');
    expect((await conflictsOf(mrn)).some((r) => r.startsWith('patient-service kept its own phone'))).toBe(true);
  });
});
