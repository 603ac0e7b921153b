/**
 * The services' FHIR APIs over rows a test writes: patient-service and results-service on fresh
 * databases of their own, serving HTTP only (no queues, so no Redis database of the shared
 * server is taken), with whatever FHIR base URLs the test sets as a deployment would. The rows
 * are written as the feeds leave them; `fhir.test.ts` covers the feeds themselves.
 */
import { inject } from 'vitest';
import { createLogger } from '@ficus/contracts';
import { loadPatientServiceConfig, startPatientService, type RunningPatientService } from '@ficus/patient-service';
import { loadResultsServiceConfig, startResultsService, type RunningResultsService } from '@ficus/results-service';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';

export interface FhirScene {
  patients: RunningPatientService;
  results: RunningResultsService;
  close(): Promise<void>;
}

export interface FhirSceneEnv {
  /** patient-service's own settings (FHIR_BASE_URL…) */
  patients?: Record<string, string>;
  /** results-service's own settings (FHIR_BASE_URL, PATIENT_SERVICE_FHIR_BASE_URL…) */
  results?: Record<string, string>;
}

export async function startFhirScene(prefix: string, env: FhirSceneEnv = {}): Promise<FhirScene> {
  const serverUrl = inject('databaseUrl');
  const dbs: TestDatabase[] = [await createTestDatabase(serverUrl, `${prefix}_patients`), await createTestDatabase(serverUrl, `${prefix}_results`)];
  const log = createLogger('fhir-test', { level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  // the legacy holds the record, fixed: no rule store to read
  const common = { DATABASE_URL: serverUrl, SERVICE_CONSUMERS: 'false', SERVICE_SHUTDOWN_TIMEOUT_MS: '3000' };
  const patients = await startPatientService(
    loadPatientServiceConfig({ ...common, PATIENT_SERVICE_HOST: '127.0.0.1', PATIENT_SERVICE_PORT: '0', PATIENT_SERVICE_DATABASE_URL: dbs[0]!.url, PATIENT_SERVICE_SYSTEM_OF_RECORD: 'legacy', ...env.patients }),
    log,
  );
  const results = await startResultsService(
    loadResultsServiceConfig({
      ...common,
      RESULTS_SERVICE_HOST: '127.0.0.1',
      RESULTS_SERVICE_PORT: '0',
      RESULTS_SERVICE_DATABASE_URL: dbs[1]!.url,
      RESULTS_SERVICE_SYSTEM_OF_RECORD: 'legacy',
      PATIENT_SERVICE_URL: patients.url,
      ...env.results,
    }),
    log,
  );
  return {
    patients,
    results,
    async close() {
      await results.close();
      await patients.close();
      await Promise.all(dbs.map((d) => d.drop()));
    },
  };
}

/** Patients as patient-service keeps them (family and given names upper case, as the legacy writes them). */
export async function addPatients(service: RunningPatientService, patients: { mrn: string; family: string; given: string; birthDate?: string }[]): Promise<void> {
  for (const p of patients) {
    await service.pool.query("INSERT INTO patient (mrn, family_name, given_name, birth_date, sex, updated_by) VALUES ($1, $2, $3, $4, 'U', 'test')", [p.mrn, p.family, p.given, p.birthDate ?? '1970-01-01']);
  }
}

/** `stays` stays of one patient, one a day from 2020-01-01 (ids from `firstId`). */
export async function addStays(service: RunningPatientService, mrn: string, stays: number, firstId: number): Promise<void> {
  await service.pool.query(
    `INSERT INTO encounter (id, mrn, encounter_class, ward_code, admitted_at)
     SELECT $2::bigint + n, $1, 'O', 'UNK', TIMESTAMP '2020-01-01 08:00' + n * INTERVAL '1 day' FROM generate_series(0, $3::int - 1) n`,
    [mrn, firstId, stays],
  );
}

/**
 * `count` results of one patient, three to an order (`${orderPrefix}<n>`), the three of an order
 * collected at the same minute (so that the id orders them), an order an hour after the one before.
 */
export async function addResults(service: RunningResultsService, o: { mrn: string; count: number; firstId: number; orderPrefix: string; from?: string }): Promise<void> {
  await service.pool.query(
    `INSERT INTO lab_result (id, mrn, order_number, test_code, test_name, value, units, status, collected_at)
     SELECT $2::bigint + n, $1, $4 || (n / 3), '2823-3', 'POTASSIUM', (3 + (n % 20) / 10.0)::text, 'mmol/L', 'F', $5::timestamp + (n / 3) * INTERVAL '1 hour'
       FROM generate_series(0, $3::int - 1) n`,
    [o.mrn, o.firstId, o.count, o.orderPrefix, o.from ?? '2020-01-01 08:00'],
  );
}
