/**
 * /api/patients: search, read (with ETag), register and update patients.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ifMatch, noneMatch, strongEtag } from '../http/etag.js';
import { LegacyError } from '../http/legacy-errors.js';
import { toPatientFields, updatingUser } from './patient-input.js';
import { MrnParams, PatientInput, PatientListQuery, type LegacyPatient, type PatientPage } from './patient-schemas.js';
import type { PatientStore } from './patient-store.js';

const DEFAULT_PAGE_SIZE = 20;
/** JSON bodies of this API are small; the limit keeps validation cheap */
const PATIENT_BODY_LIMIT = 16 * 1024;

/** sends the representation as exact bytes, so that the ETag is the hash of what goes on the wire */
function sendPatient(reply: FastifyReply, patient: LegacyPatient, status = 200) {
  const body = JSON.stringify(patient);
  return reply.code(status).header('etag', strongEtag(body)).type('application/json; charset=utf-8').send(body);
}

const notFound = () => new LegacyError(404, 'Patient not found');

export function registerPatientRoutes(root: FastifyInstance, store: PatientStore) {
  // a scope of their own where a body is JSON or nothing: other media types get PAT-415
  void root.register(async (app) => {
    app.removeContentTypeParser('text/plain');
    routes(app, store);
  });
}

function routes(app: FastifyInstance, store: PatientStore) {
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
    const patient = await store.insert(toPatientFields(request.body), updatingUser(request));
    return sendPatient(reply.header('location', `/api/patients/${patient.mrn}`), patient, 201);
  });

  app.put<{ Params: MrnParams; Body: PatientInput }>(
    '/api/patients/:mrn',
    { schema: { params: MrnParams, body: PatientInput }, bodyLimit: PATIENT_BODY_LIMIT },
    async (request, reply) => {
      const { mrn } = request.params;
      const fields = toPatientFields(request.body, mrn);
      // optimistic locking for clients that send If-Match with the ETag they read
      const expected = request.headers['if-match'];
      const outcome = await store.update(mrn, fields, updatingUser(request), (current) => ifMatch(expected, strongEtag(JSON.stringify(current))));
      if (outcome.kind === 'not-found') throw notFound();
      if (outcome.kind === 'precondition-failed') throw new LegacyError(412, 'Patient was changed by someone else (If-Match does not match)');
      return sendPatient(reply, outcome.patient);
    },
  );
}
