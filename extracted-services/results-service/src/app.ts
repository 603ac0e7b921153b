/**
 * results-service's routes (the kit adds /healthz, /readyz and /metrics): the legacy
 * contract's /api/results over its own table, and FHIR R4 under /fhir.
 *
 * Whether a patient without results exists (404 LAB-404, not an empty list) is
 * patient-service's to say; while it cannot be asked the answer is 503 LAB-503, which the
 * gateway answers from legacy instead.
 */
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { LegacyError, registerResultRoutes } from '@ficus/legacy-his/contract';
import { registerResultFhir, type FhirOptions } from './fhir/fhir-routes.js';
import { PatientServiceUnavailable, type PatientDirectory } from './patient-directory.js';
import { hasResults, resultsOf } from './results/result-store.js';

export interface ResultsRoutesOptions {
  patients: PatientDirectory;
  fhir: FhirOptions;
}

export async function registerResultsServiceRoutes(app: FastifyInstance, pool: pg.Pool, o: ResultsRoutesOptions): Promise<void> {
  const patientExists = async (mrn: string) => {
    if (await hasResults(pool, mrn)) return true;
    try {
      return await o.patients.exists(mrn);
    } catch (e) {
      if (e instanceof PatientServiceUnavailable) throw new LegacyError(503, 'Patient information is unavailable');
      throw e;
    }
  };
  registerResultRoutes(app, { patientExists, resultsOf: (q) => resultsOf(pool, q) });
  await registerResultFhir(app, pool, o.fhir);
}
