/**
 * GET /api/results?mrn=[&from=&to=] as the legacy answers it: 400 LAB-400 for bad input (from
 * after to included), 404 LAB-404 for an unknown patient, the results newest first. Whether a
 * patient without results exists is patient-service's to say; while it cannot be asked the
 * answer is 503 LAB-503, which the gateway answers from legacy instead.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { CalendarDate, LegacyError, Mrn } from '@ficus/service-kit';
import { PatientServiceUnavailable, type PatientDirectory } from '../patient-directory.js';
import { resultsOf, type ApiLabResult } from './result-store.js';

const ResultsQuery = Type.Object({ mrn: Mrn, from: Type.Optional(CalendarDate), to: Type.Optional(CalendarDate) });
type ResultsQuery = Static<typeof ResultsQuery>;

export interface ResultList {
  mrn: string;
  total: number;
  items: ApiLabResult[];
}

export function registerResultRoutes(app: FastifyInstance, pool: pg.Pool, patients: PatientDirectory) {
  app.get<{ Querystring: ResultsQuery }>('/api/results', { schema: { querystring: ResultsQuery } }, async (request): Promise<ResultList> => {
    const { mrn, from, to } = request.query;
    if (from && to && from > to) throw new LegacyError(400, 'Invalid request parameters', [{ field: 'from', issue: 'must not be after to' }]);
    const known = await pool.query('SELECT 1 FROM lab_result WHERE mrn = $1 LIMIT 1', [mrn]);
    if ((known.rowCount ?? 0) === 0) {
      let exists: boolean;
      try {
        exists = await patients.exists(mrn);
      } catch (e) {
        if (e instanceof PatientServiceUnavailable) throw new LegacyError(503, 'Patient information is unavailable');
        throw e;
      }
      if (!exists) throw new LegacyError(404, 'Patient not found');
    }
    const items = await resultsOf(pool, { mrn, from, to });
    return { mrn, total: items.length, items };
  });
}
