/**
 * FHIR R4 under /fhir: Patient (read by id = MRN; search by identifier, family, given,
 * birthdate, paged) and Encounter (read by id; search by patient or subject, and by
 * identifier = visit number), as searchset Bundles; errors as OperationOutcome.
 */
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { capabilityStatement, FhirError, fhirBase, paging, registerFhirScope, searchset, sendFhir, single } from '@ficus/service-kit';
import { readFhirEncounter, searchFhirEncounters, type EncounterNaming } from './encounter-resource.js';
import { readFhirPatient, searchFhirPatients, type FhirNaming } from './patient-resource.js';

const NAME_SEARCH = /^[\p{L}\p{M}' .-]{1,60}$/u;

export interface FhirOptions extends FhirNaming, EncounterNaming {
  /** base URL of absolute references (Bundle fullUrl); default: from the request */
  baseUrl: string | undefined;
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const DATE = /^(eq)?(\d{4}-\d{2}-\d{2})$/;

/** `Patient/123`, `123` or an absolute URL ending so: the MRN */
function patientReference(value: string, name: string): string {
  const m = /^(?:.*\/)?(?:Patient\/)?([A-Za-z0-9\-.]{1,64})$/.exec(value);
  if (!m || (value.includes('/') && !/(^|\/)Patient\/[^/]+$/.test(value))) throw new FhirError(400, 'invalid', `${name} must be a Patient reference (Patient/<id>)`, name);
  return m[1]!;
}

function token(value: string): { system: string | undefined; value: string } {
  const bar = value.indexOf('|');
  if (bar < 0) return { system: undefined, value };
  return { system: value.slice(0, bar) || undefined, value: value.slice(bar + 1) };
}

export async function registerPatientFhir(app: FastifyInstance, pool: pg.Pool, o: FhirOptions): Promise<void> {
  await registerFhirScope(app, (fhir) => {
    fhir.get('/metadata', async (_request, reply) =>
      sendFhir(reply, capabilityStatement('Ficus patient-service', [
        { type: 'Patient', searchParams: ['identifier', 'family', 'given', 'birthdate'] },
        { type: 'Encounter', searchParams: ['patient', 'subject', 'identifier'] },
      ])),
    );

    fhir.get<{ Params: { id: string } }>('/Patient/:id', async (request, reply) => {
      const { id } = request.params;
      const patient = FHIR_ID.test(id) ? await readFhirPatient(pool, id, o) : undefined;
      if (!patient) throw new FhirError(404, 'not-found', `Patient/${id} is not known`);
      return sendFhir(reply, patient);
    });

    fhir.get('/Patient', async (request, reply) => {
      const page = paging(request.query as Record<string, string | undefined>);
      const identifier = single(request, 'identifier');
      const family = single(request, 'family');
      const given = single(request, 'given');
      const birthdate = single(request, 'birthdate');
      // letters of any script: HL7 and the legacy's own screens write MÜLLER and 李 as well
      if (family !== undefined && !NAME_SEARCH.test(family)) throw new FhirError(400, 'invalid', 'family must be letters, spaces, apostrophes, hyphens or periods', 'family');
      if (given !== undefined && !NAME_SEARCH.test(given)) throw new FhirError(400, 'invalid', 'given must be letters, spaces, apostrophes, hyphens or periods', 'given');
      const dob = birthdate === undefined ? undefined : DATE.exec(birthdate)?.[2];
      if (birthdate !== undefined && (dob === undefined || Number.isNaN(Date.parse(dob)))) throw new FhirError(400, 'invalid', 'birthdate must be a date YYYY-MM-DD (optionally prefixed eq)', 'birthdate');
      const found = await searchFhirPatients(pool, { identifier: identifier === undefined ? undefined : token(identifier), family, given, birthdate: dob, ...page }, o);
      const base = fhirBase(request, o.baseUrl);
      const query = new URLSearchParams(Object.entries({ identifier, family, given, birthdate }).filter((e): e is [string, string] => e[1] !== undefined));
      const entries = found.patients.map((p) => ({ fullUrl: `${base}/Patient/${p.id}`, resource: p, search: { mode: 'match' as const } }));
      return sendFhir(reply, searchset(base, 'Patient', query, entries, found.total, page));
    });

    fhir.get<{ Params: { id: string } }>('/Encounter/:id', async (request, reply) => {
      const encounter = await readFhirEncounter(pool, request.params.id, o);
      if (!encounter) throw new FhirError(404, 'not-found', `Encounter/${request.params.id} is not known`);
      return sendFhir(reply, encounter);
    });

    fhir.get('/Encounter', async (request, reply) => {
      const patient = single(request, 'patient') ?? single(request, 'subject');
      const identifier = single(request, 'identifier');
      if (patient === undefined && identifier === undefined) throw new FhirError(400, 'too-costly', 'search Encounter by patient (or subject) or identifier', 'patient');
      const mrn = patient === undefined ? undefined : patientReference(patient, single(request, 'patient') !== undefined ? 'patient' : 'subject');
      const visit = identifier === undefined ? undefined : token(identifier).value;
      const encounters = await searchFhirEncounters(pool, { mrn, visitNumber: visit }, o);
      const base = fhirBase(request, o.baseUrl);
      const query = new URLSearchParams(Object.entries({ patient: mrn, identifier }).filter((e): e is [string, string] => e[1] !== undefined));
      const entries = encounters.map((e) => ({ fullUrl: `${base}/Encounter/${e.id}`, resource: e, search: { mode: 'match' as const } }));
      return sendFhir(reply, searchset(base, 'Encounter', query, entries, encounters.length));
    });
  });
}
