/**
 * patient-service's HTTP side, not yet listening: the legacy contract's /api/patients and
 * /api/encounters, FHIR R4 under /fhir, and /healthz, /readyz, /metrics.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { Logger } from '@ficus/contracts';
import { countRequests, LEGACY_AJV_OPTIONS, registerLegacyErrors, registerOpsRoutes, type OpsState } from '@ficus/service-kit';
import { registerEncounterRoutes } from './encounters/encounter-routes.js';
import { registerPatientFhir, type FhirOptions } from './fhir/fhir-routes.js';
import type { MrnBlock } from './patients/mrn-block.js';
import { registerPatientRoutes } from './patients/patient-routes.js';
import { PatientStore } from './patients/patient-store.js';
import type { OutboxSeam } from './outbox-seam.js';

export interface PatientAppOptions {
  pool: pg.Pool;
  log: Logger;
  ops: OpsState;
  mrns: MrnBlock;
  outbox: OutboxSeam;
  fhir: FhirOptions;
}

export async function buildPatientApp(o: PatientAppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: o.log as FastifyBaseLogger,
    // fastify's request log prints URLs, and URLs here carry MRNs, names and birth dates
    logController: new LogController({ disableRequestLogging: true }),
    ajv: LEGACY_AJV_OPTIONS,
  });
  registerLegacyErrors(app);
  countRequests(app, o.ops.metrics);
  registerOpsRoutes(app, o.ops);
  const patients = new PatientStore(o.pool, o.mrns, o.outbox);
  registerPatientRoutes(app, patients, o.ops.systemOfRecord);
  registerEncounterRoutes(app, o.pool, patients);
  await registerPatientFhir(app, o.pool, o.fhir);
  await app.ready();
  return app;
}
