/**
 * FHIR R4 under /fhir: Patient (read by id = MRN; search by identifier, name, family, given,
 * birthdate with eq/ge/gt/le/lt) and Encounter (read by id; search by patient or subject, and by
 * identifier = visit number), as searchset Bundles paged by `_count` and `next`/`previous` links
 * (fhir-paging.ts); errors as OperationOutcome.
 */
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { ENCOUNTER_SEARCH, FhirError, ficusCapabilityStatement, fhirBase, isCalendarDate, onlyParameters, registerFhirScope, PATIENT_SEARCH, repeated, requestedPage, searchsetBundle, sendFhir, single } from '@ficus/service-kit';
import { ENCOUNTER_ORDER, readFhirEncounter, searchFhirEncounters, type EncounterNaming } from './encounter-resource.js';
import { PATIENT_ORDER, readFhirPatient, searchFhirPatients, type BirthDateFilter, type FhirNaming } from './patient-resource.js';

const NAME_SEARCH = /^[\p{L}\p{M}' .-]{1,60}$/u;

export interface FhirOptions extends FhirNaming, EncounterNaming {
  /** base URL of absolute references (Bundle fullUrl); default: from the request */
  baseUrl: string | undefined;
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const DATE = /^(eq|ge|gt|le|lt)?(\d{4}-\d{2}-\d{2})$/;

/** accepted beside the search parameters: where a `next` or `previous` link leads (opaque) */
const CURSOR = '_cursor';

/** each `birthdate` (prefix + day) ANDed: two of them make a range */
function birthDates(values: string[]): BirthDateFilter[] {
  return values.map((raw) => {
    const m = DATE.exec(raw);
    if (!m || !isCalendarDate(m[2]!)) throw new FhirError(400, 'invalid', 'birthdate must be [eq|ge|gt|le|lt]YYYY-MM-DD, a calendar date', 'birthdate');
    return { prefix: (m[1] ?? 'eq') as BirthDateFilter['prefix'], date: m[2]! };
  });
}

function nameParameter(request: Parameters<typeof single>[0], name: string): string | undefined {
  const value = single(request, name);
  // letters of any script: HL7 and the legacy's own screens write MÜLLER and 李 as well
  if (value !== undefined && !NAME_SEARCH.test(value)) throw new FhirError(400, 'invalid', `${name} must be letters, spaces, apostrophes, hyphens or periods`, name);
  return value;
}

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
    fhir.get('/metadata', async (_request, reply) => sendFhir(reply, ficusCapabilityStatement('patient-service', o.baseUrl)));

    fhir.get<{ Params: { id: string } }>('/Patient/:id', async (request, reply) => {
      const { id } = request.params;
      const patient = FHIR_ID.test(id) ? await readFhirPatient(pool, id, o) : undefined;
      if (!patient) throw new FhirError(404, 'not-found', `Patient/${id} is not known`);
      return sendFhir(reply, patient);
    });

    fhir.get('/Patient', async (request, reply) => {
      onlyParameters(request, [...Object.keys(PATIENT_SEARCH), CURSOR]);
      // _offset stays for clients that used it; the links page by cursor
      const page = requestedPage(request, PATIENT_ORDER, { offset: true });
      const identifier = single(request, 'identifier');
      const [name, family, given] = ['name', 'family', 'given'].map((p) => nameParameter(request, p));
      const birthdate = repeated(request, 'birthdate');
      const { found, total } = await searchFhirPatients(pool, { identifier: identifier === undefined ? undefined : token(identifier), name, family, given, birthdates: birthDates(birthdate) }, page, o);
      const base = fhirBase(request, o.baseUrl);
      const query = new URLSearchParams([
        ...Object.entries({ identifier, name, family, given }).filter((e): e is [string, string] => e[1] !== undefined),
        ...birthdate.map((d): [string, string] => ['birthdate', d]),
      ]);
      const entries = { ...found, items: found.items.map((p) => ({ fullUrl: `${base}/Patient/${p.id}`, resource: p, search: { mode: 'match' as const } })) };
      return sendFhir(reply, searchsetBundle({ base, type: 'Patient', query, page, found: entries, total }));
    });

    fhir.get<{ Params: { id: string } }>('/Encounter/:id', async (request, reply) => {
      const encounter = await readFhirEncounter(pool, request.params.id, o);
      if (!encounter) throw new FhirError(404, 'not-found', `Encounter/${request.params.id} is not known`);
      return sendFhir(reply, encounter);
    });

    fhir.get('/Encounter', async (request, reply) => {
      onlyParameters(request, [...Object.keys(ENCOUNTER_SEARCH), CURSOR]);
      const patient = single(request, 'patient') ?? single(request, 'subject');
      const identifier = single(request, 'identifier');
      if (patient === undefined && identifier === undefined) throw new FhirError(400, 'too-costly', 'search Encounter by patient (or subject) or identifier', 'patient');
      const page = requestedPage(request, ENCOUNTER_ORDER);
      const mrn = patient === undefined ? undefined : patientReference(patient, single(request, 'patient') !== undefined ? 'patient' : 'subject');
      const visit = identifier === undefined ? undefined : token(identifier).value;
      const { found, total } = await searchFhirEncounters(pool, { mrn, visitNumber: visit }, page, o);
      const base = fhirBase(request, o.baseUrl);
      const query = new URLSearchParams(Object.entries({ patient: mrn, identifier }).filter((e): e is [string, string] => e[1] !== undefined));
      const entries = { ...found, items: found.items.map((e) => ({ fullUrl: `${base}/Encounter/${e.id}`, resource: e, search: { mode: 'match' as const } })) };
      return sendFhir(reply, searchsetBundle({ base, type: 'Encounter', query, page, found: entries, total }));
    });
  });
}
