/**
 * /api/patients as the legacy serves it: search (name prefixes, birth date, paging), read
 * (strong ETag, 304, HEAD), register and update (If-Match, 412), 413 over 16 KiB, 415 for
 * another media type. The routes are the contract; where the patients are kept is the store's
 * (a PatientRepository): the stand-in's PATIENT_MASTER, or a new service's own table.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ifMatch, noneMatch, strongEtag } from './etag.js';
import { LegacyError } from './errors.js';
import { toPatientFields, updatingUser } from './patient-input.js';
import { MrnParams, PatientInput, PatientListQuery, type LegacyPatient, type PatientFields, type PatientPage } from './patient-schemas.js';

export interface PatientSearch {
  /** upper case, as stored */
  lastNamePrefix?: string;
  firstNamePrefix?: string;
  /** YYYY-MM-DD */
  dob?: string;
  limit: number;
  offset: number;
}

export type UpdateOutcome = { kind: 'not-found' } | { kind: 'precondition-failed' } | { kind: 'updated'; patient: LegacyPatient };

/** Where the patients are kept. Lists sort by name in byte order, then MRN. */
export interface PatientRepository {
  findByMrn(mrn: string): Promise<LegacyPatient | undefined>;
  search(q: PatientSearch): Promise<{ total: number; items: LegacyPatient[] }>;
  /** registers a patient under an MRN the store assigns */
  insert(fields: PatientFields, user: string): Promise<LegacyPatient>;
  /**
   * Replaces the updatable fields when `precondition` holds for the current representation. An
   * update that changes nothing writes nothing, so lastUpdated, lastUpdatedBy and the ETag stay.
   */
  update(mrn: string, fields: PatientFields, user: string, precondition: (current: LegacyPatient) => boolean): Promise<UpdateOutcome>;
}

export interface PatientRouteOptions {
  /**
   * Called before a write, once the body is known to be valid; throws a LegacyError to refuse
   * it (a service that is not yet the system of record for patients answers 503).
   */
  beforeWrite?: () => void | Promise<void>;
}

const DEFAULT_PAGE_SIZE = 20;
/** JSON bodies of this API are small; the limit keeps validation cheap */
const PATIENT_BODY_LIMIT = 16 * 1024;

/** sends the representation as exact bytes, so that the ETag is the hash of what goes on the wire */
function sendPatient(reply: FastifyReply, patient: LegacyPatient, status = 200) {
  const body = JSON.stringify(patient);
  return reply.code(status).header('etag', strongEtag(body)).type('application/json; charset=utf-8').send(body);
}

const notFound = () => new LegacyError(404, 'Patient not found');

export function registerPatientRoutes(root: FastifyInstance, store: PatientRepository, options: PatientRouteOptions = {}) {
  // a scope of their own where a body is JSON or nothing: other media types get PAT-415
  void root.register(async (app) => {
    app.removeContentTypeParser('text/plain');
    routes(app, store, options.beforeWrite ?? (() => undefined));
  });
}

function routes(app: FastifyInstance, store: PatientRepository, beforeWrite: () => void | Promise<void>) {
  app.get<{ Querystring: PatientListQuery }>('/api/patients', { schema: { querystring: PatientListQuery } }, async (request): Promise<PatientPage> => {
    const q = request.query;
    const page = q.page ? Number(q.page) : 1;
    const pageSize = q.pageSize ? Number(q.pageSize) : DEFAULT_PAGE_SIZE;
    const [last, first] = (q.name ?? '').split(',').map((part) => part.trim().toUpperCase());
    const found = await store.search({
      lastNamePrefix: last || undefined,
      firstNamePrefix: first || undefined,
      dob: q.dob,
      limit: pageSize,
      offset: (page - 1) * pageSize,
    });
    return { page, pageSize, total: found.total, items: found.items };
  });

  app.get<{ Params: MrnParams }>('/api/patients/:mrn', { schema: { params: MrnParams } }, async (request, reply) => {
    const patient = await store.findByMrn(request.params.mrn);
    if (!patient) throw notFound();
    const body = JSON.stringify(patient);
    const etag = strongEtag(body);
    if (noneMatch(request.headers['if-none-match'], etag)) return reply.code(304).header('etag', etag).send();
    return reply.header('etag', etag).type('application/json; charset=utf-8').send(body);
  });

  app.post<{ Body: PatientInput }>('/api/patients', { schema: { body: PatientInput }, bodyLimit: PATIENT_BODY_LIMIT }, async (request, reply) => {
    const fields = toPatientFields(request.body);
    await beforeWrite();
    const patient = await store.insert(fields, updatingUser(request));
    return sendPatient(reply.header('location', `/api/patients/${patient.mrn}`), patient, 201);
  });

  app.put<{ Params: MrnParams; Body: PatientInput }>(
    '/api/patients/:mrn',
    { schema: { params: MrnParams, body: PatientInput }, bodyLimit: PATIENT_BODY_LIMIT },
    async (request, reply) => {
      const { mrn } = request.params;
      const fields = toPatientFields(request.body, mrn);
      await beforeWrite();
      const outcome = await store.update(mrn, fields, updatingUser(request), unchangedSince(request));
      if (outcome.kind === 'not-found') throw notFound();
      if (outcome.kind === 'precondition-failed') throw new LegacyError(412, 'Patient was changed by someone else (If-Match does not match)');
      return sendPatient(reply, outcome.patient);
    },
  );
}

/** optimistic locking for clients that send If-Match with the ETag they read */
function unchangedSince(request: FastifyRequest): (current: LegacyPatient) => boolean {
  const expected = request.headers['if-match'];
  return (current) => ifMatch(expected, strongEtag(JSON.stringify(current)));
}
