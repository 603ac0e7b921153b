/**
 * GET /api/encounters?mrn=: 404 ENC-404 for an unknown patient, an empty list for a patient
 * never admitted, no paging; as the legacy answers.
 */
import type { FastifyInstance } from 'fastify';
import { LegacyError, MrnQuery } from '@ficus/service-kit';
import type { PatientStore } from '../patients/patient-store.js';
import type pg from 'pg';
import { encountersOf, type ApiEncounter } from './encounter-store.js';

export interface EncounterList {
  mrn: string;
  total: number;
  items: ApiEncounter[];
}

export function registerEncounterRoutes(app: FastifyInstance, pool: pg.Pool, patients: PatientStore) {
  app.get<{ Querystring: MrnQuery }>('/api/encounters', { schema: { querystring: MrnQuery } }, async (request): Promise<EncounterList> => {
    const { mrn } = request.query;
    if (!(await patients.exists(mrn))) throw new LegacyError(404, 'Patient not found');
    const items = await encountersOf(pool, mrn);
    return { mrn, total: items.length, items };
  });
}
