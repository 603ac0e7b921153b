/**
 * The HTTP contract module (`@ficus/legacy-his/contract`) on its own, over a store that is not
 * the stand-in's: the serialisers make the contract's bytes from any store's neutral record,
 * and the routes give any PatientRepository the contract's query rules, ETags, preconditions
 * and errors, with a write refused (beforeWrite) only once the body is known to be valid.
 * The stand-in itself serving the contract is patients-api.test.ts and clinical-api.test.ts;
 * a new service serving it byte for byte is extracted-services/test/differential-contract.test.ts.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@ficus/contracts';
import {
  changingWrite,
  encounterJson,
  insertedColumns,
  labResultJson,
  legacyApiServer,
  LegacyError,
  patientJson,
  patientSearchFilter,
  registerEncounterRoutes,
  registerLegacyErrors,
  registerPatientRoutes,
  sqlCast,
  strongEtag,
  toPatientFields,
  type LegacyPatient,
  type PatientFields,
  type PatientRecord,
  type PatientRepository,
  type PatientSearch,
  type UpdateOutcome,
} from '../src/contract/index.js';

const record: PatientRecord = {
  mrn: '9000001',
  lastName: 'DOE',
  firstName: 'JANE',
  middleName: null,
  dateOfBirth: '1980-02-29',
  sex: 'F',
  line1: '1 MAIN ST',
  city: 'PEORIA',
  state: 'IL',
  zip: '61602',
  phone: null,
  maritalStatus: 'S',
  active: true,
  created: '2024-07-01T10:00:00',
  lastUpdated: '2024-07-01T10:00:00',
  lastUpdatedBy: 'HISAPI',
};

describe('serialisation from a neutral record', () => {
  it('a patient: the contract keys in the contract order, the address nested', () => {
    const json = patientJson(record);
    expect(Object.keys(json)).toEqual(['mrn', 'lastName', 'firstName', 'middleName', 'dateOfBirth', 'sex', 'address', 'phone', 'maritalStatus', 'active', 'created', 'lastUpdated', 'lastUpdatedBy']);
    expect(json.address).toEqual({ line1: '1 MAIN ST', city: 'PEORIA', state: 'IL', zip: '61602' });
    // whatever order a store reads the columns in, the bytes (and so the ETag) are the same
    const shuffled = Object.fromEntries(Object.entries(record).reverse()) as unknown as PatientRecord;
    expect(JSON.stringify(patientJson(shuffled))).toBe(JSON.stringify(json));
  });

  it('a stay: numbers from BIGINT strings, the status from the discharge, the disposition trimmed', () => {
    const stay = {
      admissionId: '42',
      mrn: '9000001',
      admitDate: '2024-07-01T10:00:00',
      dischargeDate: null,
      admissionType: 'I' as const,
      wardCode: 'W3',
      wardDescription: 'WARD 3',
      bed: '2',
      attendingDoctorId: null,
      dischargeDisposition: null,
      lastUpdated: '2024-07-01T10:00:00',
    };
    expect(encounterJson(stay)).toStrictEqual({
      admissionId: 42,
      mrn: '9000001',
      admitDate: '2024-07-01T10:00:00',
      dischargeDate: null,
      status: 'ADMITTED',
      admissionType: 'I',
      ward: { code: 'W3', description: 'WARD 3' },
      bed: '2',
      attendingDoctorId: null,
      dischargeDisposition: null,
      lastUpdated: '2024-07-01T10:00:00',
    });
    const discharged = encounterJson({ ...stay, dischargeDate: '2024-07-03T09:00:00', dischargeDisposition: '1 ' });
    expect(discharged).toMatchObject({ status: 'DISCHARGED', dischargeDisposition: '1' });
    expect(Object.keys(discharged)).toEqual(['admissionId', 'mrn', 'admitDate', 'dischargeDate', 'status', 'admissionType', 'ward', 'bed', 'attendingDoctorId', 'dischargeDisposition', 'lastUpdated']);
  });

  it('a result: ids as numbers, the value kept as the laboratory printed it', () => {
    const json = labResultJson({
      lastUpdated: '2024-07-01T12:00:00',
      resultDate: null,
      collectedDate: '2024-07-01T06:15:00',
      status: 'F',
      abnormalFlag: null,
      referenceRange: '0.5-1.2',
      units: 'mg/dL',
      value: '0.70',
      testName: 'CREATININE',
      testCode: '2160-0',
      orderNumber: 'L1',
      admissionId: null,
      mrn: '9000001',
      resultId: '7',
    });
    expect(JSON.stringify(json)).toBe(
      '{"resultId":7,"mrn":"9000001","admissionId":null,"orderNumber":"L1","testCode":"2160-0","testName":"CREATININE","value":"0.70","units":"mg/dL","referenceRange":"0.5-1.2","abnormalFlag":null,"status":"F","collectedDate":"2024-07-01T06:15:00","resultDate":null,"lastUpdated":"2024-07-01T12:00:00"}',
    );
  });
});

describe('input normalisation', () => {
  it('upper-cases and trims names and the address, keeps ZIP, phone and codes, and reads a missing active as active', () => {
    expect(
      toPatientFields({ lastName: " o'neill ", firstName: 'maeve', middleName: 'k', dateOfBirth: '1984-02-29', sex: 'F', address: { line1: '12 elm st ', city: 'springfield', state: 'il', zip: '62704' }, phone: '217-555-0199' }),
    ).toEqual({ lastName: "O'NEILL", firstName: 'MAEVE', middleName: 'K', dateOfBirth: '1984-02-29', sex: 'F', line1: '12 ELM ST', city: 'SPRINGFIELD', state: 'IL', zip: '62704', phone: '217-555-0199', maritalStatus: null, active: true });
  });

  it('refuses what a schema cannot: a birth date in the future or before 1880, an MRN sent with a registration or another than the path', () => {
    const refusal = (read: () => unknown) => {
      try {
        read();
      } catch (e) {
        if (e instanceof LegacyError) return { status: e.statusCode, details: e.details };
        throw e;
      }
      throw new Error('not refused');
    };
    const base = { lastName: 'DOE', firstName: 'JANE', dateOfBirth: '1980-01-01', sex: 'F' as const };
    expect(refusal(() => toPatientFields({ ...base, dateOfBirth: '2999-01-01', mrn: '100001' }))).toEqual({
      status: 400,
      details: [
        { field: 'dateOfBirth', issue: 'must not be in the future' },
        { field: 'mrn', issue: 'is assigned by the system and must not be sent' },
      ],
    });
    expect(refusal(() => toPatientFields({ ...base, dateOfBirth: '1879-12-31', mrn: '100002' }, '100001')).details).toEqual([
      { field: 'dateOfBirth', issue: 'must not be before 1880-01-01' },
      { field: 'mrn', issue: 'must match the MRN in the path' },
    ]);
  });
});

describe('the contract in a PostgreSQL store', () => {
  const columns = { lastName: 'last', firstName: 'first', dateOfBirth: 'dob' };

  it('searches names by prefix with the LIKE wildcards escaped, and the birth date exactly', () => {
    expect(patientSearchFilter({ lastNamePrefix: 'O_B%', firstNamePrefix: 'A\\', dob: '1980-02-29', limit: 20, offset: 0 }, columns)).toEqual({
      filter: 'WHERE last LIKE $1 AND first LIKE $2 AND dob = $3::date',
      values: ['O\\_B\\%%', 'A\\\\%', '1980-02-29'],
    });
    expect(patientSearchFilter({ limit: 20, offset: 0 }, columns)).toEqual({ filter: '', values: [] });
  });

  it('writes only when a value changes, and inserts the same columns', () => {
    const writes = [
      { column: 'last', sql: sqlCast('text'), value: 'DOE' },
      { column: 'dob', sql: sqlCast('date'), value: '1980-02-29' },
    ];
    expect(changingWrite(writes, 2)).toEqual({ set: 'last = $2::text, dob = $3::date', changes: 'ROW(last, dob) IS DISTINCT FROM ROW($2::text, $3::date)', values: ['DOE', '1980-02-29'] });
    expect(insertedColumns(writes, 1)).toEqual({ columns: 'last, dob', params: '$1::text, $2::date', values: ['DOE', '1980-02-29'] });
  });
});

/** patients in memory: what a store of another shape answers, and what the routes asked of it */
class MemoryPatients implements PatientRepository {
  readonly searches: PatientSearch[] = [];
  readonly writes: { fields: PatientFields; user: string }[] = [];
  private readonly patients = new Map<string, LegacyPatient>([[record.mrn, patientJson(record)]]);

  async findByMrn(mrn: string) {
    return this.patients.get(mrn);
  }
  async search(q: PatientSearch) {
    this.searches.push(q);
    return { total: this.patients.size, items: [...this.patients.values()].slice(q.offset, q.offset + q.limit) };
  }
  async insert(fields: PatientFields, user: string) {
    this.writes.push({ fields, user });
    const created = patientJson({ ...record, ...fields, mrn: '9000002', lastUpdatedBy: user });
    this.patients.set(created.mrn, created);
    return created;
  }
  async update(mrn: string, fields: PatientFields, user: string, precondition: (current: LegacyPatient) => boolean): Promise<UpdateOutcome> {
    const current = this.patients.get(mrn);
    if (!current) return { kind: 'not-found' };
    if (!precondition(current)) return { kind: 'precondition-failed' };
    this.writes.push({ fields, user });
    const updated = patientJson({ ...record, ...fields, mrn, lastUpdatedBy: user });
    this.patients.set(mrn, updated);
    return { kind: 'updated', patient: updated };
  }
}

describe('the routes over another store', () => {
  let app: FastifyInstance;
  let base: string;
  const store = new MemoryPatients();
  let writable = false;

  beforeAll(async () => {
    app = legacyApiServer(createLogger('contract-test', { level: 'silent' }) as FastifyBaseLogger);
    registerLegacyErrors(app);
    registerPatientRoutes(app, store, {
      beforeWrite: () => {
        if (!writable) throw new LegacyError(503, 'Patients are written elsewhere');
      },
    });
    registerEncounterRoutes(app, { patientExists: async (mrn) => (await store.findByMrn(mrn)) !== undefined, encountersOf: async () => [] });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await app?.close();
  });

  const send = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${base}${path}`, { method, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };

  it('asks the store with the contract query rules: LAST,FIRST prefixes upper-cased, page and page size as offset and limit', async () => {
    const page = await send('GET', '/api/patients?name=%20doe%20,ja&page=3&pageSize=5');
    expect(page.status).toBe(200);
    expect(page.json).toEqual({ page: 3, pageSize: 5, total: 1, items: [] });
    expect(store.searches.pop()).toEqual({ lastNamePrefix: 'DOE', firstNamePrefix: 'JA', dob: undefined, limit: 5, offset: 10 });
    await send('GET', '/api/patients');
    expect(store.searches.pop()).toEqual({ lastNamePrefix: undefined, firstNamePrefix: undefined, dob: undefined, limit: 20, offset: 0 });
    expect((await send('GET', '/api/patients?pageSize=101')).json).toEqual({
      errorCode: 'PAT-400',
      errorMessage: 'Invalid request parameters',
      details: [{ field: 'pageSize', issue: 'must be a whole number from 1 to 100' }],
    });
  });

  it('serves a patient with the ETag of its bytes, 304 for that ETag, and the contract errors for unknown and malformed MRNs', async () => {
    const read = await send('GET', `/api/patients/${record.mrn}`);
    expect(read.text).toBe(JSON.stringify(patientJson(record)));
    expect(read.headers.get('etag')).toBe(strongEtag(read.text));
    expect((await send('GET', `/api/patients/${record.mrn}`, undefined, { 'if-none-match': `W/${read.headers.get('etag')}` })).status).toBe(304);
    expect((await send('GET', '/api/patients/1234567')).json).toEqual({ errorCode: 'PAT-404', errorMessage: 'Patient not found' });
    expect((await send('GET', '/api/encounters?mrn=1234567')).json).toEqual({ errorCode: 'ENC-404', errorMessage: 'Patient not found' });
    expect((await send('GET', '/api/patients/12a')).json).toMatchObject({ errorCode: 'PAT-400', details: [{ field: 'mrn', issue: 'must be a medical record number of 6 to 10 digits' }] });
  });

  it('checks a body before it asks whether writes are taken here: 400 for a bad body, then 503', async () => {
    const bad = await send('POST', '/api/patients', { lastName: 'DOE' });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ errorCode: 'PAT-400', errorMessage: 'Invalid request body' });
    const refused = await send('POST', '/api/patients', { lastName: 'Roe', firstName: 'Rita', dateOfBirth: '1970-01-01', sex: 'F' });
    expect(refused.json).toEqual({ errorCode: 'PAT-503', errorMessage: 'Patients are written elsewhere' });
    expect(store.writes).toEqual([]);
  });

  it('once writable: registers with Location and the updater from X-User-Id, and updates only under a matching If-Match', async () => {
    writable = true;
    const created = await send('POST', '/api/patients', { lastName: 'Roe', firstName: 'Rita', dateOfBirth: '1970-01-01', sex: 'F' }, { 'x-user-id': 'regclk01' });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/api/patients/9000002');
    expect(store.writes.pop()).toMatchObject({ fields: { lastName: 'ROE', firstName: 'RITA', active: true }, user: 'REGCLK01' });
    const body = { lastName: 'Roe', firstName: 'Rita', dateOfBirth: '1970-01-01', sex: 'F', active: false };
    const stale = await send('PUT', '/api/patients/9000002', body, { 'if-match': '"not-the-tag"' });
    expect(stale.json).toEqual({ errorCode: 'PAT-412', errorMessage: 'Patient was changed by someone else (If-Match does not match)' });
    const updated = await send('PUT', '/api/patients/9000002', body, { 'if-match': created.headers.get('etag')! });
    expect(updated.status).toBe(200);
    expect(updated.json).toMatchObject({ mrn: '9000002', active: false, lastUpdatedBy: 'HISAPI' });
    expect(updated.headers.get('etag')).toBe(strongEtag(updated.text));
  });
});
