/**
 * /api/patients as the legacy serves it: search, read (strong ETag, 304, HEAD), register and
 * update (If-Match, 412), 413 over 16 KiB, 415 for another media type. Writes are taken only
 * while patient-service is the system of record for patients; before that they belong to the
 * legacy system, and a write sent here by mistake is refused (PAT-503) rather than kept where
 * the legacy would never see it.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ifMatch, LegacyError, noneMatch, strongEtag, type SystemOfRecord } from '@ficus/service-kit';
import { toPatientFields, updatingUser } from './patient-input.js';
import { MrnParams, PatientInput, PatientListQuery, type ApiPatient, type PatientPage } from './patient-schemas.js';
import type { PatientStore } from './patient-store.js';

const DEFAULT_PAGE_SIZE = 20;
const PATIENT_BODY_LIMIT = 16 * 1024;

function sendPatient(reply: FastifyReply, patient: ApiPatient, status = 200) {
  const body = JSON.stringify(patient);
  return reply.code(status).header('etag', strongEtag(body)).type('application/json; charset=utf-8').send(body);
}

const notFound = () => new LegacyError(404, 'Patient not found');

export function registerPatientRoutes(root: FastifyInstance, store: PatientStore, systemOfRecord: SystemOfRecord) {
  // a scope of its own where a body is JSON or nothing: other media types get PAT-415
  void root.register(async (app) => {
    app.removeContentTypeParser('text/plain');
    routes(app, store, systemOfRecord);
  });
}

function routes(app: FastifyInstance, store: PatientStore, systemOfRecord: SystemOfRecord) {
  const writable = () => {
    if (systemOfRecord !== 'service') throw new LegacyError(503, 'Patients are written in the legacy system until patient-service becomes their system of record');
  };

  app.get<{ Querystring: PatientListQuery }>('/api/patients', { schema: { querystring: PatientListQuery } }, async (request): Promise<PatientPage> => {
    const q = request.query;
    const page = q.page ? Number(q.page) : 1;
    const pageSize = q.pageSize ? Number(q.pageSize) : DEFAULT_PAGE_SIZE;
    const [last, first] = (q.name ?? '').split(',').map((part) => part.trim().toUpperCase());
    const found = await store.search({ lastNamePrefix: last || undefined, firstNamePrefix: first || undefined, dob: q.dob, limit: pageSize, offset: (page - 1) * pageSize });
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
    writable();
    const patient = await store.insert(fields, updatingUser(request));
    return sendPatient(reply.header('location', `/api/patients/${patient.mrn}`), patient, 201);
  });

  app.put<{ Params: MrnParams; Body: PatientInput }>(
    '/api/patients/:mrn',
    { schema: { params: MrnParams, body: PatientInput }, bodyLimit: PATIENT_BODY_LIMIT },
    async (request, reply) => {
      const { mrn } = request.params;
      const fields = toPatientFields(request.body, mrn);
      writable();
      const expected = request.headers['if-match'];
      const outcome = await store.update(mrn, fields, updatingUser(request), (current) => ifMatch(expected, strongEtag(JSON.stringify(current))));
      if (outcome.kind === 'not-found') throw notFound();
      if (outcome.kind === 'precondition-failed') throw new LegacyError(412, 'Patient was changed by someone else (If-Match does not match)');
      return sendPatient(reply, outcome.patient);
    },
  );
}
