/**
 * The DBA's probe of 2026-12-07, end to end: rows the legacy deleted while the CDC was stopped
 * and its slot dropped (the DELETEs lost with it), then `CDC_RESNAPSHOT=true`. Before, both
 * services upserted the new snapshot and kept the deleted rows for good (`ficus reconcile`
 * showed them missing-in-legacy, no tool removed them). Now, once the snapshot's end has
 * reached every partition, each service withdraws exactly those rows (patients and results),
 * the others stay as they were, a late replay of an older change does not bring a withdrawn
 * row back, and a patient patient-service changed itself (its write-back still to land) and a
 * patient it created survive; a patient registered in the legacy right after the snapshot
 * (streamed, later than it) stays.
 *
 * The real parts: the CDC deployable (a child process, the shipped mapping) on a legacy database
 * with logical replication, patient-service (system of record: the service; its write-back is
 * not consumed, so its changes stay pending) and results-service (legacy), a Redis of this
 * file's own (the services consume the shipped topic names).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger, hl7QueueName, keyText, partitionOf, type ChangeBatch, type Hl7Job } from '@ficus/contracts';
import { cdcQueuePrefix } from '@ficus/contracts/queues';
import type { RunningPatientService } from '@ficus/patient-service';
import type { RunningResultsService } from '@ficus/results-service';
import { hl7, msh, segment, uniqueControlId } from '../../examples/legacy-his/test/support/mllp-client.js';
import { startScene, until, type CdcProcess, type Scene } from '../../legacy-adapters/cdc/test/support/cdc-scene.js';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { startServicePair } from './support/service-pair.js';
import { deadLetters, hl7Time } from '../../test-support/service-scene.js';
import { startPrivateRedis, type PrivateRedis } from '../../scripts/lib/local-services.js';

const log = createLogger('resnapshot-withdrawal-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });

let ownRedis: PrivateRedis;
let redisDir: string;
let redis: Redis;
let s: Scene;
let cdc: CdcProcess;
let dbs: TestDatabase[] = [];
let patients: RunningPatientService;
let results: RunningResultsService;
let patientDb: pg.Pool;
let resultDb: pg.Pool;

beforeAll(async () => {
  redisDir = mkdtempSync(path.join(tmpdir(), 'ficus-resnapshot-'));
  ownRedis = await startPrivateRedis(redisDir, () => undefined);
  redis = new Redis(ownRedis.url, { maxRetriesPerRequest: null });
  s = await startScene({ name: 'resnap_wd', seedPatients: 30, mapping: (topics) => topics.map((t) => ({ ...t, topic: t.topic.replace(/-[0-9a-f]{6}$/, '') })) });
  // no write-back consumed: what patient-service changes itself stays pending
  cdc = await s.start({ REDIS_URL: ownRedis.url, CDC_WRITEBACK_SERVICES: 'nobody', LOG_LEVEL: 'warn' });
  dbs = [await createTestDatabase(inject('databaseUrl'), 'resnap_wd_patients'), await createTestDatabase(inject('databaseUrl'), 'resnap_wd_results')];
  const common = { DATABASE_URL: inject('databaseUrl'), REDIS_URL: ownRedis.url, SERVICE_SHUTDOWN_TIMEOUT_MS: '3000', SERVICE_SNAPSHOT_WITHDRAW_MAX_PERCENT: '50', HL7_MRN_AUTHORITIES: 'GENHOSP' };
  ({ patients, results } = await startServicePair({ common, databases: { patients: dbs[0]!, results: dbs[1]! }, systemOfRecord: { patients: 'service', results: 'legacy' }, log }));
  patientDb = new pg.Pool({ connectionString: dbs[0]!.url, max: 2 });
  resultDb = new pg.Pool({ connectionString: dbs[1]!.url, max: 2 });
});

afterAll(async () => {
  await patientDb?.end();
  await resultDb?.end();
  await results?.close();
  await patients?.close();
  await cdc?.stop();
  await Promise.all(dbs.map((d) => d.drop()));
  await s?.close();
  redis?.disconnect();
  await ownRedis?.stop();
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
});

const count = async (db: pg.Pool, sql: string, args: unknown[] = []) => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) x`, args)).rows[0]!.n;
const legacyMrns = async () => (await s.legacyPool.query<{ mrn: string }>('SELECT pat_mrn AS mrn FROM patient_master ORDER BY 1')).rows.map((r) => r.mrn);
const legacyResultIds = async () => (await s.legacyPool.query<{ id: string }>('SELECT result_id::text AS id FROM lab_result ORDER BY 1')).rows.map((r) => r.id);
const serviceMrns = async () => (await patientDb.query<{ mrn: string }>('SELECT mrn FROM patient ORDER BY 1')).rows.map((r) => r.mrn);
const serviceResultIds = async () => (await resultDb.query<{ id: string }>('SELECT id::text AS id FROM lab_result ORDER BY 1')).rows.map((r) => r.id);
/** the rows as the services hold them, less what a re-read of the same legacy row restamps */
const patientRows = async () =>
  new Map((await patientDb.query<{ mrn: string; row: string }>("SELECT mrn, (to_jsonb(p) - 'committed_position' - 'committed_source_at')::text AS row FROM patient p")).rows.map((r) => [r.mrn, r.row]));
const resultRows = async () =>
  new Map((await resultDb.query<{ id: string; row: string }>("SELECT id::text, (to_jsonb(r) - 'committed_position' - 'committed_source_at')::text AS row FROM lab_result r")).rows.map((r) => [r.id, r.row]));
const decided = async (db: pg.Pool, topic: string) =>
  (await db.query<{ position: string; state: string; withdrawn: number; kept: number }>('SELECT position, state, withdrawn, kept FROM ficus_snapshot_ends WHERE topic = $1 ORDER BY position', [topic])).rows;

/** an ADT message on patient-service's queue, as the HL7 adapter puts it (rules in mode `new`: the legacy does not get it) */
let clock = 0;
async function sendAdt(event: string, mrn: string, pid: Record<number, string>): Promise<void> {
  const at = hl7Time(new Date(Date.now() + ++clock * 60_000));
  const message = hl7(msh(`ADT^${event}^ADT_A01`, uniqueControlId(event), { time: at }), `EVN|${event}|${at}`, segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR`, ...pid }));
  const queue = new Queue<Hl7Job>(hl7QueueName('patient-service', partitionOf(`${mrn}^GENHOSP`, 8)), { connection: redis });
  await queue.add(`ADT^${event}`, { messageId: Date.now() + clock, controlId: uniqueControlId(event), sendingFacility: 'NEWREG', messageType: 'ADT', triggerEvent: event, raw: Buffer.from(message, 'utf8').toString('latin1'), replay: false, legacyToo: false });
  await queue.close();
}

describe('a re-snapshot after deletes lost with the slot', () => {
  it('withdraws exactly the rows the legacy no longer has, keeps the rest and what the service holds of its own', async () => {
    // the first snapshot in both services
    const mrns = await legacyMrns();
    await until(async () => ((await serviceMrns()).length === mrns.length ? true : undefined), 'the first snapshot in patient-service');
    await until(async () => ((await serviceResultIds()).length === (await legacyResultIds()).length ? true : undefined), 'the first snapshot in results-service');

    // patient-service's own changes, not written back: a new patient, and an edit of a legacy patient
    const own = '9900001';
    const edited = mrns[5]!;
    await sendAdt('A04', own, { 5: 'OWNMADE^ONLY', 7: '19700101', 8: 'F' });
    await sendAdt('A08', edited, { 5: 'EDITED^HERE', 7: '19700101', 8: 'F' });
    await until(async () => ((await serviceMrns()).includes(own) ? true : undefined), 'the A04 in patient-service').catch(async (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify((await deadLetters(redis)).map((d) => `${d.queue}: ${d.error}`))}`);
    });
    await until(async () => ((await count(patientDb, "SELECT 1 FROM patient WHERE mrn = $1 AND family_name = 'EDITED'", [edited])) === 1 ? true : undefined), 'the A08 in patient-service');

    // the CDC stopped, its slot dropped: the legacy deletes two patients (and theirs), the edited one,
    // and one patient's results (a reload that left them out)
    await cdc.stop();
    await s.legacyPool.query('SELECT pg_drop_replication_slot($1)', [s.slot]);
    const gonePatients = [mrns[1]!, mrns[2]!, edited];
    const resultsLeftOut = (await s.legacyPool.query<{ mrn: string }>('SELECT pat_mrn AS mrn FROM lab_result WHERE NOT (pat_mrn = ANY($1)) GROUP BY pat_mrn ORDER BY count(*) DESC LIMIT 1', [gonePatients])).rows[0]!.mrn;
    const before = { patients: await patientRows(), results: await resultRows(), resultIds: await legacyResultIds() };
    await s.legacyPool.query('DELETE FROM lab_result WHERE pat_mrn = ANY($1) OR pat_mrn = $2', [gonePatients, resultsLeftOut]);
    await s.legacyPool.query('DELETE FROM admission WHERE pat_mrn = ANY($1)', [gonePatients]);
    await s.legacyPool.query('DELETE FROM patient_master WHERE pat_mrn = ANY($1)', [gonePatients]);
    const stillResults = new Set(await legacyResultIds());
    const withdrawnResults = before.resultIds.filter((id) => !stillResults.has(id));
    expect(withdrawnResults.length).toBeGreaterThan(0);

    // the recovery: a new slot and snapshot; then a patient registered in the legacy right after it
    cdc = await s.start({ REDIS_URL: ownRedis.url, CDC_WRITEBACK_SERVICES: 'nobody', LOG_LEVEL: 'warn', CDC_RESNAPSHOT: 'true' });
    await s.legacyPool.query(
      "INSERT INTO patient_master (pat_mrn, pat_last_nm, pat_first_nm, pat_dob, sex_cd) VALUES ('9900002', 'AFTER', 'SNAPSHOT', '1990-01-01', 'M')",
    );
    await until(async () => ((await serviceMrns()).includes('9900002') ? true : undefined), 'the streamed patient', 60_000);
    // (before 2026-12-07 these stayed for good)
    await until(async () => (!(await serviceMrns()).includes(mrns[1]!) ? true : undefined), 'the deleted patients withdrawn', 30_000);
    await until(async () => (!(await serviceResultIds()).includes(withdrawnResults[0]!) ? true : undefined), 'the deleted results withdrawn', 30_000);

    // patients: exactly the two deleted, the edited one kept (its write-back still to land), the service's own kept
    const nowMrns = new Set(await serviceMrns());
    expect(nowMrns.has(mrns[1]!)).toBe(false);
    expect(nowMrns.has(mrns[2]!)).toBe(false);
    expect(nowMrns.has(edited)).toBe(true);
    expect(nowMrns.has(own)).toBe(true);
    expect(nowMrns.has('9900002')).toBe(true);
    expect(await decided(patientDb, 'patients')).toMatchObject([{ state: 'withdrawn', withdrawn: 0 }, { state: 'withdrawn', withdrawn: 2, kept: 1 }]);
    const afterPatients = await patientRows();
    for (const [mrn, row] of before.patients) {
      if (gonePatients.includes(mrn) || mrn === own) continue;
      expect(afterPatients.get(mrn), mrn).toBe(row);
    }

    // results: exactly those the legacy no longer has, the others as they were
    const nowResults = await serviceResultIds();
    expect(nowResults.sort()).toEqual([...stillResults].sort());
    const afterResults = await resultRows();
    for (const id of stillResults) expect(afterResults.get(id), id).toBe(before.results.get(id));
    expect(await decided(resultDb, 'lab-results')).toMatchObject([{ state: 'withdrawn', withdrawn: 0 }, { state: 'withdrawn', withdrawn: withdrawnResults.length, kept: 0 }]);
    // kept as the legacy's delete keeps them: the last version, withdrawn
    expect(await count(resultDb, "SELECT 1 FROM lab_result_version WHERE result_id = $1::bigint AND replaced_by = 'withdrawn'", [withdrawnResults[0]])).toBe(1);
    const metrics = await (await fetch(`${results.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`ficus_service_snapshot_rows_total\\{[^}]*topic="lab-results"[^}]*outcome="withdrawn"[^}]*\\} ${withdrawnResults.length}`));

    // a late replay of an older change of a withdrawn result (a dead letter replayed by hand) does not bring it back
    const id = withdrawnResults[0]!;
    const old: ChangeBatch = {
      schemaVersion: 1,
      events: [
        {
          schemaVersion: 1,
          topic: 'lab-results',
          op: 'update',
          key: { resultId: Number(id) },
          before: null,
          after: { resultId: Number(id), mrn: resultsLeftOut, admissionId: null, orderNumber: 'LATE', testCode: 'K', testName: 'Potassium', value: '9.9', units: 'mmol/L', referenceRange: null, abnormalFlag: 'HH', status: 'F', collectedDate: '2026-12-01T08:00:00', resultDate: null, lastUpdated: '2026-12-01T08:00:00' },
          source: { system: 'postgres', name: 'legacy-pg', database: s.legacy.name, schema: 'public', table: 'lab_result', position: '0000000000000001/00000000', txId: null, commitTime: null, origin: null },
        },
      ],
    };
    const partition = partitionOf(keyText({ resultId: id }), 8);
    const q = new Queue<ChangeBatch>(`${cdcQueuePrefix('lab-results')}.p${partition}`, { connection: redis });
    const job = await q.add('changes', old);
    await until(async () => ((await job.getState()) === 'completed' ? true : undefined), 'the late change taken');
    await q.close();
    expect(await serviceResultIds()).not.toContain(id);
  });
});
