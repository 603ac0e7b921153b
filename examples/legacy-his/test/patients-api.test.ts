import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LegacyErrorBody, LegacyPatient, PatientPage } from '../src/index.js';
import { getJson, sqlValue, startHarness, type Harness } from '../../../test-support/legacy-his.js';

let his: Harness;
beforeAll(async () => {
  his = await startHarness('legacy_patients');
});
afterAll(async () => {
  await his?.close();
});

const byteOrder = (a: string, b: string) => (Buffer.compare(Buffer.from(a), Buffer.from(b)) as number);
const sortKey = (p: LegacyPatient) => [p.lastName, p.firstName, p.mrn] as const;
function inListOrder(a: LegacyPatient, b: LegacyPatient): number {
  const [ka, kb] = [sortKey(a), sortKey(b)];
  for (let i = 0; i < ka.length; i++) {
    const c = byteOrder(ka[i] as string, kb[i] as string);
    if (c !== 0) return c;
  }
  return 0;
}

const newPatient = {
  lastName: "o'neill-test",
  firstName: 'Maeve',
  middleName: 'k',
  dateOfBirth: '1984-02-29',
  sex: 'F',
  address: { line1: '12 Elm St', city: 'Springfield', state: 'il', zip: '62704' },
  phone: '217-555-0199',
  maritalStatus: 'M',
};

function post(body: unknown, headers: Record<string, string> = {}) {
  return getJson<LegacyPatient & LegacyErrorBody>(`${his.base}/api/patients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function put(mrn: string, body: unknown, headers: Record<string, string> = {}) {
  return getJson<LegacyPatient & LegacyErrorBody>(`${his.base}/api/patients/${mrn}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('GET /api/patients (list and search)', () => {
  it('answers the first page of everyone by default, in name order', async () => {
    const { status, body } = await getJson<PatientPage>(`${his.base}/api/patients`);
    expect(status).toBe(200);
    expect(body.page).toBe(1);
    expect(body.pageSize).toBe(20);
    expect(body.total).toBe(3000);
    expect(body.items).toHaveLength(20);
    expect([...body.items].sort(inListOrder)).toEqual(body.items);
    expect(Object.keys(body.items[0] as object)).toEqual([
      'mrn', 'lastName', 'firstName', 'middleName', 'dateOfBirth', 'sex', 'address', 'phone', 'maritalStatus', 'active', 'created', 'lastUpdated', 'lastUpdatedBy',
    ]);
  });

  it('pages through a search without gaps or duplicates', async () => {
    const total = await sqlValue<number>(his.pool, `SELECT count(*)::int AS v FROM PATIENT_MASTER WHERE PAT_LAST_NM LIKE 'S%'`);
    const seen: LegacyPatient[] = [];
    for (let page = 1; ; page++) {
      const { body } = await getJson<PatientPage>(`${his.base}/api/patients?name=s&pageSize=100&page=${page}`);
      expect(body.total).toBe(total);
      if (body.items.length === 0) break;
      seen.push(...body.items);
    }
    expect(seen).toHaveLength(total);
    expect(new Set(seen.map((p) => p.mrn)).size).toBe(total);
    expect([...seen].sort(inListOrder)).toEqual(seen);
    expect(seen.every((p) => p.lastName.startsWith('S'))).toBe(true);
  });

  it('matches a last-name prefix case-insensitively, and LAST,FIRST prefixes', async () => {
    const smi = await getJson<PatientPage>(`${his.base}/api/patients?name=smi&pageSize=100`);
    expect(smi.body.total).toBe(await sqlValue<number>(his.pool, `SELECT count(*)::int AS v FROM PATIENT_MASTER WHERE PAT_LAST_NM LIKE 'SMI%'`));
    expect(smi.body.items.map((p) => p.lastName)).toEqual(expect.arrayContaining(['SMITH', 'SMITHERS']));
    expect(smi.body.items.every((p) => p.lastName.startsWith('SMI'))).toBe(true);

    const both = await getJson<PatientPage>(`${his.base}/api/patients?name=${encodeURIComponent('Smith, j')}&pageSize=100`);
    expect(both.body.total).toBe(
      await sqlValue<number>(his.pool, `SELECT count(*)::int AS v FROM PATIENT_MASTER WHERE PAT_LAST_NM LIKE 'SMITH%' AND PAT_FIRST_NM LIKE 'J%'`),
    );
    expect(both.body.total).toBeGreaterThan(0);
    expect(both.body.items.every((p) => p.lastName.startsWith('SMITH') && p.firstName.startsWith('J'))).toBe(true);

    const apostrophe = await getJson<PatientPage>(`${his.base}/api/patients?name=${encodeURIComponent("o'b")}`);
    expect(apostrophe.body.items.every((p) => p.lastName === "O'BRIEN")).toBe(true);
    expect(apostrophe.body.total).toBeGreaterThan(0);
  });

  it('searches by date of birth, alone or with a name', async () => {
    const dob = await sqlValue<string>(his.pool, `SELECT to_char(PAT_DOB, 'YYYY-MM-DD') AS v FROM PATIENT_MASTER WHERE PAT_MRN = '100010'`);
    const last = await sqlValue<string>(his.pool, `SELECT PAT_LAST_NM AS v FROM PATIENT_MASTER WHERE PAT_MRN = '100010'`);
    const byDob = await getJson<PatientPage>(`${his.base}/api/patients?dob=${dob}`);
    expect(byDob.body.total).toBe(await sqlValue<number>(his.pool, `SELECT count(*)::int AS v FROM PATIENT_MASTER WHERE PAT_DOB = $1::date`, [dob]));
    expect(byDob.body.items.every((p) => p.dateOfBirth === dob)).toBe(true);
    const both = await getJson<PatientPage>(`${his.base}/api/patients?dob=${dob}&name=${encodeURIComponent(last)}`);
    expect(both.body.items.map((p) => p.mrn)).toContain('100010');
    const none = await getJson<PatientPage>(`${his.base}/api/patients?dob=1850-01-01`);
    expect(none.body).toEqual({ page: 1, pageSize: 20, total: 0, items: [] });
  });

  it('answers an empty page past the end', async () => {
    const { status, body } = await getJson<PatientPage>(`${his.base}/api/patients?page=999&pageSize=50`);
    expect(status).toBe(200);
    expect(body).toEqual({ page: 999, pageSize: 50, total: 3000, items: [] });
  });

  it('refuses bad query parameters with a PAT-400 naming each of them', async () => {
    const { status, body } = await getJson<LegacyErrorBody>(`${his.base}/api/patients?page=0&pageSize=101&dob=2023-02-30&name=%25`);
    expect(status).toBe(400);
    expect(body.errorCode).toBe('PAT-400');
    expect(body.errorMessage).toBeTruthy();
    expect(body.details?.map((d) => d.field).sort()).toEqual(['dob', 'name', 'page', 'pageSize']);
    for (const q of ['page=abc', 'pageSize=0', 'page=-1', 'dob=2023-13-01', 'dob=20230101', 'name=a_b', 'page=1&page=2']) {
      const r = await getJson<LegacyErrorBody>(`${his.base}/api/patients?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.errorCode, q).toBe('PAT-400');
    }
  });
});

describe('GET /api/patients/:mrn', () => {
  it('answers one patient with a strong ETag, and 304 when it has not changed', async () => {
    const res = await fetch(`${his.base}/api/patients/100001`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const etag = res.headers.get('etag');
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    const patient = (await res.json()) as LegacyPatient;
    expect(patient.mrn).toBe('100001');
    expect(patient.dateOfBirth).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(patient.created).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
    expect(patient.lastName).toBe(patient.lastName.toUpperCase());

    const again = await fetch(`${his.base}/api/patients/100001`, { headers: { 'if-none-match': etag as string } });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(etag);
    expect(await again.text()).toBe('');

    const weak = await fetch(`${his.base}/api/patients/100001`, { headers: { 'if-none-match': `"other", W/${etag as string}` } });
    expect(weak.status).toBe(304);
    const stale = await fetch(`${his.base}/api/patients/100001`, { headers: { 'if-none-match': '"stale"' } });
    expect(stale.status).toBe(200);
    const other = await fetch(`${his.base}/api/patients/100002`);
    expect(other.headers.get('etag')).not.toBe(etag);
  });

  it('answers 404 PAT-404 for an unknown MRN and 400 PAT-400 for a malformed one', async () => {
    const missing = await getJson(`${his.base}/api/patients/999999`);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ errorCode: 'PAT-404', errorMessage: 'Patient not found' });
    for (const bad of ['abc', '12345', '12345678901', '100001x', '-100001']) {
      const r = await getJson<LegacyErrorBody>(`${his.base}/api/patients/${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.body.errorCode).toBe('PAT-400');
      expect(r.body.details?.[0]?.field).toBe('mrn');
    }
  });
});

describe('POST /api/patients', () => {
  it('registers a patient with the next MRN, in upper case, and answers 201 with its Location', async () => {
    const created = await post(newPatient, { 'x-user-id': 'regclk99' });
    expect(created.status).toBe(201);
    expect(created.body.mrn).toMatch(/^\d{6}$/);
    expect(Number(created.body.mrn)).toBeGreaterThan(103000);
    expect(created.headers.get('location')).toBe(`/api/patients/${created.body.mrn}`);
    expect(created.body).toMatchObject({
      lastName: "O'NEILL-TEST",
      firstName: 'MAEVE',
      middleName: 'K',
      dateOfBirth: '1984-02-29',
      sex: 'F',
      address: { line1: '12 ELM ST', city: 'SPRINGFIELD', state: 'IL', zip: '62704' },
      phone: '217-555-0199',
      maritalStatus: 'M',
      active: true,
      lastUpdatedBy: 'REGCLK99',
    });

    const read = await fetch(`${his.base}${created.headers.get('location') as string}`);
    expect(await read.json()).toEqual(created.body);
    expect(read.headers.get('etag')).toBe(created.headers.get('etag'));

    const second = await post({ ...newPatient, firstName: 'Niamh' });
    expect(Number(second.body.mrn)).toBe(Number(created.body.mrn) + 1);
    expect(second.body.lastUpdatedBy).toBe('HISAPI');
  });

  it('refuses invalid input with a PAT-400 listing every problem', async () => {
    const { status, body } = await post({ lastName: '', firstName: 7, dateOfBirth: '2021-02-29', sex: 'X', shoeSize: 42, address: { zip: '1234' } });
    expect(status).toBe(400);
    expect(body.errorCode).toBe('PAT-400');
    expect(new Set(body.details?.map((d) => d.field))).toEqual(new Set(['lastName', 'firstName', 'dateOfBirth', 'sex', 'shoeSize', 'address.zip']));
    const missing = await post({});
    expect(missing.status).toBe(400);
    expect(missing.body.details?.filter((d) => d.issue === 'is required').map((d) => d.field).sort()).toEqual(['dateOfBirth', 'firstName', 'lastName', 'sex']);
  });

  it('refuses a birth date in the future and an MRN chosen by the client', async () => {
    const { status, body } = await post({ ...newPatient, dateOfBirth: '2999-01-01', mrn: '100001' });
    expect(status).toBe(400);
    expect(body.details?.map((d) => d.field).sort()).toEqual(['dateOfBirth', 'mrn']);
  });

  it('answers PAT-400 for malformed JSON and PAT-415 for another media type', async () => {
    const bad = await post('{"lastName": ');
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ errorCode: 'PAT-400', errorMessage: 'Request body is not valid JSON' });
    const text = await getJson<LegacyErrorBody>(`${his.base}/api/patients`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'SMITH' });
    expect(text.status).toBe(415);
    expect(text.body.errorCode).toBe('PAT-415');
  });
});

describe('PUT /api/patients/:mrn', () => {
  it('replaces the updatable fields, moves lastUpdated and the ETag, and keeps them on a no-op', async () => {
    const created = await post(newPatient);
    const mrn = created.body.mrn;
    const etag1 = created.headers.get('etag') as string;
    // make the first write visibly older, so that the update's timestamp must move
    await his.pool.query(`UPDATE PATIENT_MASTER SET LAST_UPD_DT = TIMESTAMP '2020-01-01 00:00' WHERE PAT_MRN = $1`, [mrn]);
    const before = await getJson<LegacyPatient>(`${his.base}/api/patients/${mrn}`);
    expect(before.body.lastUpdated).toBe('2020-01-01T00:00:00');

    const replacement = { lastName: 'Okafor', firstName: 'Maeve', dateOfBirth: '1984-03-01', sex: 'F', active: false };
    const updated = await put(mrn, replacement, { 'x-user-id': 'his.admin' });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({
      mrn,
      lastName: 'OKAFOR',
      dateOfBirth: '1984-03-01',
      middleName: null,
      address: { line1: null, city: null, state: null, zip: null },
      phone: null,
      maritalStatus: null,
      active: false,
      created: created.body.created,
      lastUpdatedBy: 'HIS.ADMIN',
    });
    expect(updated.body.lastUpdated > '2020-01-01T00:00:00').toBe(true);
    const etag2 = updated.headers.get('etag') as string;
    expect(etag2).not.toBe(etag1);
    expect((await fetch(`${his.base}/api/patients/${mrn}`, { headers: { 'if-none-match': etag1 } })).status).toBe(200);
    expect(await (await fetch(`${his.base}/api/patients/${mrn}`)).json()).toEqual(updated.body);

    // sending back what was read (read-only fields included) changes nothing
    const noop = await put(mrn, updated.body, { 'x-user-id': 'someone.else' });
    expect(noop.status).toBe(200);
    expect(noop.body).toEqual(updated.body);
    expect(noop.headers.get('etag')).toBe(etag2);
  });

  it('honours If-Match: 412 PAT-412 for a stale ETag, 200 for the current one', async () => {
    const created = await post(newPatient);
    const mrn = created.body.mrn;
    const etag = created.headers.get('etag') as string;
    const stale = await put(mrn, { ...newPatient, firstName: 'Aoife' }, { 'if-match': '"not-the-etag"' });
    expect(stale.status).toBe(412);
    expect(stale.body.errorCode).toBe('PAT-412');
    expect((await getJson<LegacyPatient>(`${his.base}/api/patients/${mrn}`)).body.firstName).toBe('MAEVE');
    const fresh = await put(mrn, { ...newPatient, firstName: 'Aoife' }, { 'if-match': etag });
    expect(fresh.status).toBe(200);
    expect(fresh.body.firstName).toBe('AOIFE');
  });

  it('answers 404 for an unknown patient, 400 for invalid input or a different MRN in the body', async () => {
    const missing = await put('999999', newPatient);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ errorCode: 'PAT-404', errorMessage: 'Patient not found' });
    const invalid = await put('100001', { ...newPatient, sex: 'female' });
    expect(invalid.status).toBe(400);
    expect(invalid.body.details).toEqual([{ field: 'sex', issue: 'must be one of M, F, U' }]);
    const otherMrn = await put('100001', { ...newPatient, mrn: '100002' });
    expect(otherMrn.status).toBe(400);
    expect(otherMrn.body.details?.[0]?.field).toBe('mrn');
  });
});

describe('unknown routes', () => {
  it('answer 404 HIS-404 in the legacy error shape', async () => {
    for (const [method, path] of [['GET', '/api/nothing'], ['DELETE', '/api/patients/100001'], ['GET', '/api/patients/100001/extra']] as const) {
      const r = await getJson<LegacyErrorBody>(`${his.base}${path}`, { method });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body).toEqual({ errorCode: 'HIS-404', errorMessage: 'No such resource' });
    }
  });
});
