/**
 * results-service's HTTP side, not yet listening: the legacy contract's /api/results, FHIR R4
 * under /fhir, and /healthz, /readyz, /metrics.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Logger } from '@ficus/contracts';
import { countRequests, LEGACY_AJV_OPTIONS, registerLegacyErrors, registerOpsRoutes, type OpsState } from '@ficus/service-kit';
import { registerResultFhir, type FhirOptions } from './fhir/fhir-routes.js';
import type { PatientDirectory } from './patient-directory.js';
import { registerResultRoutes } from './results/result-routes.js';

export interface ResultsAppOptions {
  pool: pg.Pool;
  log: Logger;
  ops: OpsState;
  patients: PatientDirectory;
  fhir: FhirOptions;
}

export async function buildResultsApp(o: ResultsAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: o.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    ajv: LEGACY_AJV_OPTIONS,
  });
  registerLegacyErrors(app);
  countRequests(app, o.ops.metrics);
  registerOpsRoutes(app, o.ops);
  registerResultRoutes(app, o.pool, o.patients);
  await registerResultFhir(app, o.pool, o.fhir);
  await app.ready();
  return app;
}
