/**
 * The legacy HIS as a fastify application, not yet listening: main.ts listens on the
 * configured port, tests and other packages listen on port 0.
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type pg from 'pg';
import { createLogger, type Logger } from '@ficus/contracts';
import { encountersOf } from './clinical/encounter-store.js';
import { resultsOf } from './clinical/result-store.js';
import { legacyApiServer, registerEncounterRoutes, registerLegacyErrors, registerPatientRoutes, registerResultRoutes } from './contract/index.js';
import { registerPatientExport } from './export/patients-csv.js';
import { registerFileRoutes } from './files/file-routes.js';
import { registerHealthRoutes } from './ops/health-routes.js';
import { PatientStore } from './patients/patient-store.js';
import { registerCensusReport } from './reports/census-report.js';
import { registerSlowReport } from './reports/slow-report.js';
import { registerEchoSocket } from './ws/echo-socket.js';
import { registerSocketRoutes } from './ws/socket-routes.js';

export interface LegacyHisOptions {
  /** the caller owns the pool: closing the app does not end it */
  pool: pg.Pool;
  /** defaults to a silent logger */
  log?: Logger;
  /** one log line per request with the route pattern, status and time (default true) */
  accessLog?: boolean;
}

export async function buildLegacyHis(options: LegacyHisOptions): Promise<FastifyInstance> {
  const { pool } = options;
  const log = options.log ?? createLogger('legacy-his', { level: 'silent' });
  // pino's Logger is a FastifyBaseLogger; saying so keeps the instance's type the plain default
  const app = legacyApiServer(log as FastifyBaseLogger);

  if (options.accessLog !== false) {
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? '(no route)';
      // health checks come every few seconds from every gateway: at debug, or they drown the rest
      const level = route === '/healthz' || route === '/readyz' ? 'debug' : 'info';
      request.log[level]({ method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
    });
  }

  registerLegacyErrors(app);
  await registerSocketRoutes(app, registerEchoSocket);

  const patients = new PatientStore(pool);
  registerHealthRoutes(app, pool);
  const patientExists = (mrn: string) => patients.exists(mrn);
  registerPatientRoutes(app, patients);
  registerEncounterRoutes(app, { patientExists, encountersOf: (mrn) => encountersOf(pool, mrn) });
  registerResultRoutes(app, { patientExists, resultsOf: (q) => resultsOf(pool, q) });
  registerCensusReport(app, pool);
  registerSlowReport(app);
  registerPatientExport(app, pool);
  registerFileRoutes(app);
  await app.ready();
  return app;
}
