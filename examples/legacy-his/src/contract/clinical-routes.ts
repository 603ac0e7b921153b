/**
 * /api/encounters and /api/results: one patient's admissions and laboratory results, newest
 * first, no paging. Both need ?mrn= and answer 404 for an unknown patient (not an empty
 * list), as the old system did. The routes are the contract; the stays and results, and who
 * knows whether a patient exists, are the caller's.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { LegacyEncounter, LegacyLabResult } from './clinical-records.js';
import { LegacyError } from './errors.js';
import { exactJson } from './exact-json.js';
import { CalendarDate, Mrn, MrnQuery } from './schema-types.js';

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

export interface ResultQuery {
  mrn: string;
  /** first collection day included, YYYY-MM-DD */
  from?: string;
  /** last collection day included, YYYY-MM-DD */
  to?: string;
}

export interface EncounterSource {
  /** false answers 404; may throw a LegacyError (503 when the answer cannot be had) */
  patientExists(mrn: string): Promise<boolean>;
  /** newest admission first (then the higher id) */
  encountersOf(mrn: string): Promise<LegacyEncounter[]>;
}

export interface ResultSource {
  /** false answers 404; may throw a LegacyError (503 when the answer cannot be had) */
  patientExists(mrn: string): Promise<boolean>;
  /** newest collection first (then the higher id), within the collection days asked */
  resultsOf(q: ResultQuery): Promise<LegacyLabResult[]>;
}

const requirePatient = async (source: { patientExists(mrn: string): Promise<boolean> }, mrn: string) => {
  if (!(await source.patientExists(mrn))) throw new LegacyError(404, 'Patient not found');
};

/** written by exactJson, where Fastify's JSON.stringify would throw on a BIGINT id beyond 2^53 (a bigint) */
const sendList = (reply: FastifyReply, list: EncounterList | ResultList) => reply.type('application/json; charset=utf-8').send(exactJson(list));

export function registerEncounterRoutes(app: FastifyInstance, source: EncounterSource) {
  app.get<{ Querystring: MrnQuery }>('/api/encounters', { schema: { querystring: MrnQuery } }, async (request, reply) => {
    const { mrn } = request.query;
    await requirePatient(source, mrn);
    const items = await source.encountersOf(mrn);
    return sendList(reply, { mrn, total: items.length, items });
  });
}

export function registerResultRoutes(app: FastifyInstance, source: ResultSource) {
  app.get<{ Querystring: ResultsQuery }>('/api/results', { schema: { querystring: ResultsQuery } }, async (request, reply) => {
    const { mrn, from, to } = request.query;
    if (from && to && from > to) throw new LegacyError(400, 'Invalid request parameters', [{ field: 'from', issue: 'must not be after to' }]);
    await requirePatient(source, mrn);
    const items = await source.resultsOf({ mrn, from, to });
    return sendList(reply, { mrn, total: items.length, items });
  });
}
