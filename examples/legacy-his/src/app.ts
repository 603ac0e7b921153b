/**
 * The legacy HIS as a fastify application, not yet listening: main.ts listens on the
 * configured port, tests and other packages listen on port 0.
 */
import websocket from '@fastify/websocket';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type pg from 'pg';
import { createLogger, type Logger } from '@ficus/contracts';
import { registerClinicalRoutes } from './clinical/clinical-routes.js';
import { registerPatientExport } from './export/patients-csv.js';
import { registerFileRoutes } from './files/file-routes.js';
import { registerLegacyErrors } from './http/legacy-errors.js';
import { registerHealthRoutes } from './ops/health-routes.js';
import { registerPatientRoutes } from './patients/patient-routes.js';
import { PatientStore } from './patients/patient-store.js';
import { registerCensusReport } from './reports/census-report.js';
import { registerSlowReport } from './reports/slow-report.js';
import { registerEchoSocket } from './ws/echo-socket.js';

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
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; saying so keeps the instance's type the plain default
    loggerInstance: log as FastifyBaseLogger,
    // fastify's request log prints URLs, and URLs here carry MRNs, names and birth dates
    logController: new LogController({ disableRequestLogging: true }),
    ajv: {
      customOptions: {
        // report every problem of a body at once, and never coerce or drop input silently
        allErrors: true,
        coerceTypes: false,
        removeAdditional: false,
        // the schema's description words the "pattern" errors
        verbose: true,
      },
    },
  });

  if (options.accessLog !== false) {
    app.addHook('onResponse', async (request, reply) => {
      request.log.info(
        { method: request.method, route: request.routeOptions.url ?? '(no route)', status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
        'request',
      );
    });
  }

  registerLegacyErrors(app);
  await app.register(websocket, { options: { maxPayload: 16 * 1024 * 1024 } });

  const patients = new PatientStore(pool);
  registerHealthRoutes(app, pool);
  registerPatientRoutes(app, patients);
  registerClinicalRoutes(app, pool, patients);
  registerCensusReport(app, pool);
  registerSlowReport(app);
  registerPatientExport(app, pool);
  registerFileRoutes(app);
  registerEchoSocket(app);
  await app.ready();
  return app;
}
