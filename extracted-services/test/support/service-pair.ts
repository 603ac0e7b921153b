/**
 * patient-service and results-service started in-process against databases of their own, as the
 * scenes that need both (with a CDC process or an HL7 adapter of their own) start them.
 */
import type { Logger } from '@ficus/contracts';
import { loadPatientServiceConfig, startPatientService, type RunningPatientService } from '@ficus/patient-service';
import { loadResultsServiceConfig, startResultsService, type RunningResultsService } from '@ficus/results-service';
import type { SystemOfRecord } from '@ficus/service-kit';
import type { TestDatabase } from '../../../test-support/databases.js';
import { FAST_RETRY } from '../../../test-support/service-scene.js';

export interface ServicePair {
  patients: RunningPatientService;
  results: RunningResultsService;
}

export async function startServicePair(o: {
  /** the environment both take (DATABASE_URL, REDIS_URL, SERVICE_* settings) */
  common: Record<string, string>;
  databases: { patients: TestDatabase; results: TestDatabase };
  systemOfRecord: { patients: SystemOfRecord; results: SystemOfRecord };
  log: Logger;
}): Promise<ServicePair> {
  const patients = await startPatientService(
    loadPatientServiceConfig({ ...o.common, PATIENT_SERVICE_HOST: '127.0.0.1', PATIENT_SERVICE_PORT: '0', PATIENT_SERVICE_DATABASE_URL: o.databases.patients.url, PATIENT_SERVICE_SYSTEM_OF_RECORD: o.systemOfRecord.patients }),
    o.log,
    { retry: FAST_RETRY },
  );
  const results = await startResultsService(
    loadResultsServiceConfig({ ...o.common, RESULTS_SERVICE_HOST: '127.0.0.1', RESULTS_SERVICE_PORT: '0', RESULTS_SERVICE_DATABASE_URL: o.databases.results.url, RESULTS_SERVICE_SYSTEM_OF_RECORD: o.systemOfRecord.results, PATIENT_SERVICE_URL: patients.url }),
    o.log,
    { retry: FAST_RETRY },
  );
  return { patients, results };
}
