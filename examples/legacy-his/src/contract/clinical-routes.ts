/**
 * /api/encounters and /api/results: one patient's admissions and laboratory results, newest
 * first. Both need ?mrn= and answer 404 for an unknown patient (not an empty list), as the
 * old system did.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { LegacyError } from '../http/legacy-errors.js';
import { CalendarDate, Mrn, MrnQuery } from '../http/schema-types.js';
import type { PatientStore } from '../patients/patient-store.js';
import { encountersOf, type LegacyEncounter } from './encounter-store.js';
import { resultsOf, type LegacyLabResult } from './result-store.js';

const ResultsQuery = Type.Object({ mrn: Mrn, from: Type.Optional(CalendarDate), to: Type.Optional(CalendarDate) });
type ResultsQuery = Static<typeof ResultsQuery>;

export interface EncounterList {
  mrn: string;
  total: number;
  items: LegacyEncounter[];
}

export interface ResultList {
  mrn: string;
  total: number;
  items: LegacyLabResult[];
}

export function registerClinicalRoutes(app: FastifyInstance, pool: pg.Pool, patients: PatientStore) {
  const requirePatient = async (mrn: string) => {
    if (!(await patients.exists(mrn))) throw new LegacyError(404, 'Patient not found');
  };

  app.get<{ Querystring: Static<typeof MrnQuery> }>('/api/encounters', { schema: { querystring: MrnQuery } }, async (request): Promise<EncounterList> => {
    const { mrn } = request.query;
    await requirePatient(mrn);
    const items = await encountersOf(pool, mrn);
    return { mrn, total: items.length, items };
  });

  app.get<{ Querystring: ResultsQuery }>('/api/results', { schema: { querystring: ResultsQuery } }, async (request): Promise<ResultList> => {
    const { mrn, from, to } = request.query;
    if (from && to && from > to) throw new LegacyError(400, 'Invalid request parameters', [{ field: 'from', issue: 'must not be after to' }]);
    await requirePatient(mrn);
    const items = await resultsOf(pool, { mrn, from, to });
    return { mrn, total: items.length, items };
  });
}
