/**
 * The bound on a re-snapshot's withdrawal, end to end: the legacy lost many results while the CDC
 * was stopped and its slot dropped (a reload gone wrong, a wrong database restored), so the
 * re-snapshot brings far fewer rows than results-service holds. Above
 * SERVICE_SNAPSHOT_WITHDRAW_MAX_PERCENT (10 by default) nothing is withdrawn: the service stays
 * ready, says so in /readyz (`snapshotWithdrawals.held`, the snapshot's name a person allows) and
 * in a gauge; restarted with SERVICE_SNAPSHOT_WITHDRAW_ALLOW=<that name>, it withdraws exactly
 * the rows the legacy no longer has, once.
 *
 * The real parts: the CDC deployable (a child process, the shipped mapping) on a legacy database
 * with logical replication, both services in-process on databases of their own, a Redis of this
 * file's own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '@ficus/contracts';
import type { RunningPatientService } from '@ficus/patient-service';
import { loadResultsServiceConfig, startResultsService, type RunningResultsService } from '@ficus/results-service';
import { startScene, until, type CdcProcess, type Scene } from '../../legacy-adapters/cdc/test/support/cdc-scene.js';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { FAST_RETRY } from '../../test-support/service-scene.js';
import { startPrivateRedis, type PrivateRedis } from '../../scripts/lib/local-services.js';
import { startServicePair } from './support/service-pair.js';

const log = createLogger('resnapshot-bound-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });

let ownRedis: PrivateRedis;
let redisDir: string;
let s: Scene;
let cdc: CdcProcess;
let dbs: TestDatabase[] = [];
let patients: RunningPatientService;
let results: RunningResultsService;
let resultDb: pg.Pool;
let common: Record<string, string>;

beforeAll(async () => {
  redisDir = mkdtempSync(path.join(tmpdir(), 'ficus-resnapshot-bound-'));
  ownRedis = await startPrivateRedis(redisDir, () => undefined);
  s = await startScene({ name: 'resnap_bound', seedPatients: 30, mapping: (topics) => topics.map((t) => ({ ...t, topic: t.topic.replace(/-[0-9a-f]{6}$/, '') })) });
  cdc = await s.start({ REDIS_URL: ownRedis.url, CDC_WRITEBACK_SERVICES: 'nobody', LOG_LEVEL: 'warn' });
  dbs = [await createTestDatabase(inject('databaseUrl'), 'resnap_bound_patients'), await createTestDatabase(inject('databaseUrl'), 'resnap_bound_results')];
  // the bound as shipped (no SERVICE_SNAPSHOT_WITHDRAW_MAX_PERCENT)
  common = { DATABASE_URL: inject('databaseUrl'), REDIS_URL: ownRedis.url, SERVICE_SHUTDOWN_TIMEOUT_MS: '3000', HL7_MRN_AUTHORITIES: 'GENHOSP' };
  ({ patients, results } = await startServicePair({ common, databases: { patients: dbs[0]!, results: dbs[1]! }, systemOfRecord: { patients: 'legacy', results: 'legacy' }, log }));
  resultDb = new pg.Pool({ connectionString: dbs[1]!.url, max: 2 });
});

afterAll(async () => {
  await resultDb?.end();
  await results?.close();
  await patients?.close();
  await cdc?.stop();
  await Promise.all(dbs.map((d) => d.drop()));
  await s?.close();
  await ownRedis?.stop();
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
});

const legacyResultIds = async () => (await s.legacyPool.query<{ id: string }>('SELECT result_id::text AS id FROM lab_result ORDER BY 1')).rows.map((r) => r.id);
const serviceResultIds = async () => (await resultDb.query<{ id: string }>('SELECT id::text AS id FROM lab_result ORDER BY 1')).rows.map((r) => r.id);
const decisions = async () =>
  (await resultDb.query<{ position: string; state: string; withdrawn: number }>("SELECT position, state, withdrawn FROM ficus_snapshot_ends WHERE topic = 'lab-results' ORDER BY position")).rows;

interface Readiness {
  status: string;
  snapshotWithdrawals?: { held: { snapshot: string; topicRows: number; wouldWithdraw: number; kept: number; maxPercent: number }[] };
}
const readyz = async (url: string) => {
  const res = await fetch(`${url}/readyz`);
  return { code: res.status, body: (await res.json()) as Readiness };
};
/** the gauge's value for lab-results; no series (undefined) once nothing is held */
const heldGauge = async (url: string) => {
  const value = /^ficus_service_snapshot_withdrawals_held\{[^}]*topic="lab-results"[^}]*\} (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1];
  return value === undefined ? undefined : Number(value);
};

function startResults(extra: Record<string, string>): Promise<RunningResultsService> {
  return startResultsService(
    loadResultsServiceConfig({ ...common, ...extra, RESULTS_SERVICE_HOST: '127.0.0.1', RESULTS_SERVICE_PORT: '0', RESULTS_SERVICE_DATABASE_URL: dbs[1]!.url, RESULTS_SERVICE_SYSTEM_OF_RECORD: 'legacy', PATIENT_SERVICE_URL: patients.url }),
    log,
    { retry: FAST_RETRY },
  );
}

describe("a re-snapshot that would withdraw more than the bound", () => {
  it('withdraws nothing and says so until a person allows that snapshot; then exactly the rows the legacy lost', async () => {
    const first = await legacyResultIds();
    await until(async () => ((await serviceResultIds()).length === first.length ? true : undefined), 'the first snapshot in results-service', 60_000);
    expect((await readyz(results.url)).body.snapshotWithdrawals).toBeUndefined();

    // the CDC stopped, its slot dropped: the legacy loses the results of a third of its patients
    await cdc.stop();
    await s.legacyPool.query('SELECT pg_drop_replication_slot($1)', [s.slot]);
    await s.legacyPool.query('DELETE FROM lab_result WHERE pat_mrn IN (SELECT pat_mrn FROM patient_master ORDER BY pat_mrn LIMIT 10)');
    const still = await legacyResultIds();
    const lost = first.length - still.length;
    expect(lost / first.length).toBeGreaterThan(0.1);

    cdc = await s.start({ REDIS_URL: ownRedis.url, CDC_WRITEBACK_SERVICES: 'nobody', LOG_LEVEL: 'warn', CDC_RESNAPSHOT: 'true' });
    const held = await until(async () => (await decisions()).find((d) => d.state === 'held'), 'the re-snapshot decided', 60_000);
    expect(held.withdrawn).toBe(lost);
    // nothing withdrawn; the service stays ready (its rows are as they were) and names what waits
    expect(await serviceResultIds()).toEqual(first);
    const r = await readyz(results.url);
    expect(r.code).toBe(200);
    const snapshot = `lab-results@${held.position}`;
    expect(r.body.snapshotWithdrawals?.held).toEqual([{ snapshot, source: expect.any(String) as string, topicRows: first.length, wouldWithdraw: lost, kept: 0, maxPercent: 10 }]);
    expect(await heldGauge(results.url)).toBe(1);

    // a person allows that snapshot, once: the restarted service withdraws exactly what the legacy lost
    await results.close();
    results = await startResults({ SERVICE_SNAPSHOT_WITHDRAW_ALLOW: snapshot });
    await until(async () => ((await serviceResultIds()).length === still.length ? true : undefined), 'the allowed withdrawal', 30_000);
    expect(await serviceResultIds()).toEqual(still);
    expect((await decisions()).find((d) => d.position === held.position)).toMatchObject({ state: 'withdrawn', withdrawn: lost });
    expect((await readyz(results.url)).body.snapshotWithdrawals).toBeUndefined();
    expect(await heldGauge(results.url)).toBeUndefined();
  });
});
