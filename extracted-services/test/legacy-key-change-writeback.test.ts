/**
 * The whole race as found by hand on the demo, end to end: the real CDC reader and legacy
 * writer (a child process), the legacy database, and patient-service holding the record with
 * its outbox and relay. A legacy screen renames a patient's MRN and, within the CDC lag (the
 * reader stopped, SIGSTOP), a client PUTs that patient under the old MRN to the service. The old
 * code ended with two charts in both systems: the write-back inserted the old MRN again in the
 * legacy, the service refused the delete and took the create as a second person. Now: one
 * patient, under the legacy's new MRN, with the PUT's change, in both.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '@ficus/contracts';
import { loadPatientServiceConfig, startPatientService, type RunningPatientService } from '@ficus/patient-service';
import { createTestDatabase, type TestDatabase } from '../../test-support/databases.js';
import { startScene, until, type CdcProcess, type Scene } from '../../legacy-adapters/cdc/test/support/cdc-scene.js';
import { startPrivateRedis, type PrivateRedis } from '../../scripts/lib/local-services.js';

let s: Scene;
let cdc: CdcProcess;
let ownRedis: PrivateRedis;
let redisDir: string;
let serviceDb: TestDatabase;
let service: RunningPatientService;

beforeAll(async () => {
  // the shipped topic names (the service consumes those), on a Redis of this file's own
  redisDir = mkdtempSync(path.join(tmpdir(), 'ficus-key-change-'));
  ownRedis = await startPrivateRedis(redisDir, () => undefined);
  s = await startScene({ name: 'key_change', seedPatients: 3, mapping: (topics) => topics.map((t) => ({ ...t, topic: t.topic.replace(/-[0-9a-f]{6}$/, '') })) });
  cdc = await s.start({ REDIS_URL: ownRedis.url, CDC_WRITEBACK_SERVICES: 'patient-service', CDC_STATUS_INTERVAL_MS: '200', LOG_LEVEL: 'warn' });
  serviceDb = await createTestDatabase(inject('databaseUrl'), 'key_change_patients');
  service = await startPatientService(
    loadPatientServiceConfig({
      DATABASE_URL: inject('databaseUrl'),
      REDIS_URL: ownRedis.url,
      PATIENT_SERVICE_HOST: '127.0.0.1',
      PATIENT_SERVICE_PORT: '0',
      PATIENT_SERVICE_DATABASE_URL: serviceDb.url,
      PATIENT_SERVICE_SYSTEM_OF_RECORD: 'service',
      SERVICE_SHUTDOWN_TIMEOUT_MS: '3000',
    }),
    createLogger('key-change-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    { retry: { attempts: 3, baseMs: 20, maxMs: 50 } },
  );
});
afterAll(async () => {
  if (cdc && cdc.child.exitCode === null && cdc.child.signalCode === null) cdc.child.kill('SIGCONT');
  await service?.close();
  await cdc?.stop();
  await serviceDb?.drop();
  await s?.close();
  await ownRedis?.stop();
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
});

const legacyRows = async () => (await s.legacyPool.query<{ pat_mrn: string; pat_last_nm: string }>("SELECT pat_mrn, pat_last_nm FROM patient_master WHERE pat_first_nm = 'KEYCHANGE' ORDER BY pat_mrn")).rows;
const serviceRows = async () => (await service.pool.query<{ mrn: string; family_name: string }>("SELECT mrn, family_name FROM patient WHERE given_name = 'KEYCHANGE' ORDER BY mrn")).rows;

describe('a legacy MRN rename and a PUT of the old MRN within the CDC lag', () => {
  it('end with one patient under the new MRN, with the PUT\'s change, in the legacy and in the service', async () => {
    await s.legacyPool.query("INSERT INTO patient_master (pat_mrn, pat_last_nm, pat_first_nm, pat_dob, sex_cd) VALUES ('100301', 'BEFORE', 'KEYCHANGE', '1970-03-04', 'F')");
    await until(async () => (await serviceRows()).length === 1, 'the patient in the service');

    cdc.child.kill('SIGSTOP'); // CDC lags: the reader (and the writer beside it) read nothing for now
    await s.legacyPool.query("UPDATE patient_master SET pat_mrn = '900301' WHERE pat_mrn = '100301'");
    const read = await fetch(`${service.url}/api/patients/100301`);
    const current = (await read.json()) as Record<string, unknown>;
    const put = await fetch(`${service.url}/api/patients/100301`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'if-match': read.headers.get('etag')! },
      body: JSON.stringify({ ...current, lastName: 'PUTAFTER' }),
    });
    expect(put.status).toBe(200);
    cdc.child.kill('SIGCONT');

    const settled = async () => {
      const [legacy, ours] = [await legacyRows(), await serviceRows()];
      return (legacy.length > 1 || ours.length > 1 || (legacy[0]?.pat_last_nm === 'PUTAFTER' && ours[0]?.mrn === '900301')) && { legacy, ours };
    };
    const { legacy, ours } = await until(settled, 'both sides settled', 20_000);
    expect(legacy).toEqual([{ pat_mrn: '900301', pat_last_nm: 'PUTAFTER' }]);
    expect(ours).toEqual([{ mrn: '900301', family_name: 'PUTAFTER' }]);
    // the write-back's echo ends the service's pending state under the new MRN
    await until(async () => (await service.pool.query("SELECT 1 FROM patient WHERE mrn = '900301' AND cardinality(local_changed_fields) = 0")).rowCount === 1, 'the echo taken');
  });
});
