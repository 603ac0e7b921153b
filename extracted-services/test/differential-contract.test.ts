/**
 * The differential contract test: a seeded legacy HIS, and patient-service and results-service
 * fed the same data through their CDC consumers (snapshot events of the legacy tables). Then
 * the same requests go to the legacy and to the services, and the answers must be the same:
 * status, content type, ETag, Location, and the body byte for byte. Reads: every seeded
 * patient, their encounters and results, name and birth-date searches with paging, the
 * conditional and HEAD requests; errors: a battery of invalid inputs. Writes: the same
 * POST/PUT sequence to both (each on its own copy of the data) answers the same, the MRNs
 * the two systems assign aside.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LegacyPatient } from '@ficus/legacy-his';
import { ask, startServiceScene, type Answer, type ServiceScene } from '../../test-support/service-scene.js';

let scene: ServiceScene;
let mrns: string[];
let patients: LegacyPatient[];

beforeAll(async () => {
  // the service is the system of record here, so that the writes below are its own
  scene = await startServiceScene({ prefix: 'svc_diff', redisDb: 11, patients: 300, seed: 61_061, systemOfRecord: 'service' });
  await scene.cdc.snapshot();
  await scene.drain();
  const { rows } = await scene.legacy.pool.query<{ pat_mrn: string }>('SELECT PAT_MRN FROM PATIENT_MASTER ORDER BY PAT_MRN');
  mrns = rows.map((r) => r.pat_mrn);
  patients = await Promise.all(mrns.map(async (m) => JSON.parse((await ask(scene.legacy.base, `/api/patients/${m}`)).body) as LegacyPatient));
});
afterAll(async () => {
  await scene?.close();
});

type Target = 'patients' | 'results';

/** the same request to the legacy and to a service: both answers */
async function both(target: Target, path: string, init: RequestInit = {}): Promise<[Answer, Answer]> {
  const service = target === 'patients' ? scene.patients.url : scene.results.url;
  return Promise.all([ask(scene.legacy.base, path, init), ask(service, path, init)]);
}

/** every request answered alike; on a difference, the first few requests that differ */
async function expectSame(target: Target, requests: { path: string; init?: RequestInit }[]): Promise<void> {
  const differ: string[] = [];
  for (let i = 0; i < requests.length; i += 32) {
    const chunk = requests.slice(i, i + 32);
    const answers = await Promise.all(chunk.map((r) => both(target, r.path, r.init)));
    answers.forEach(([legacy, service], j) => {
      if (JSON.stringify(legacy) !== JSON.stringify(service)) differ.push(`${chunk[j]!.init?.method ?? 'GET'} ${chunk[j]!.path}\n legacy:  ${JSON.stringify(legacy)}\n service: ${JSON.stringify(service)}`);
    });
  }
  expect(differ.slice(0, 5)).toEqual([]);
}

const json = (body: unknown, extra: Record<string, string> = {}): RequestInit => ({ headers: { 'content-type': 'application/json', ...extra }, body: JSON.stringify(body) });

describe('reads answer byte for byte as the legacy does', () => {
  it('loaded every legacy row through CDC', async () => {
    const legacyCount = async (table: string) => (await scene.legacy.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
    const serviceCount = async (pool: typeof scene.patients.pool, table: string) => (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;
    expect(mrns.length).toBe(300);
    expect(await serviceCount(scene.patients.pool, 'patient')).toBe(await legacyCount('PATIENT_MASTER'));
    expect(await serviceCount(scene.patients.pool, 'encounter')).toBe(await legacyCount('ADMISSION'));
    expect(await serviceCount(scene.results.pool, 'lab_result')).toBe(await legacyCount('LAB_RESULT'));
    expect(await legacyCount('LAB_RESULT')).toBeGreaterThan(2000);
  });

  it("every patient's GET, with its ETag, and HEAD", async () => {
    await expectSame('patients', mrns.map((m) => ({ path: `/api/patients/${m}` })));
    await expectSame('patients', mrns.slice(0, 40).map((m) => ({ path: `/api/patients/${m}`, init: { method: 'HEAD' } })));
  });

  it('conditional GETs: 304 for the current tag (weak, in lists, *), 200 for another', async () => {
    const requests = patients.slice(0, 30).flatMap((p, i) => {
      const etag = `"${'x'.repeat(27)}"`;
      return [
        { path: `/api/patients/${p.mrn}`, init: { headers: { 'if-none-match': i % 2 ? etag : '*' } } },
        { path: `/api/patients/${p.mrn}`, init: { headers: { 'if-none-match': `"nope", W/"x"` } } },
      ];
    });
    await expectSame('patients', requests);
    // the legacy's own tags are the service's: a client's cache survives the flip
    const tagged = await Promise.all(
      mrns.slice(0, 30).map(async (m) => {
        const tag = (await ask(scene.legacy.base, `/api/patients/${m}`)).headers.etag!;
        return [
          { path: `/api/patients/${m}`, init: { headers: { 'if-none-match': tag } } },
          { path: `/api/patients/${m}`, init: { headers: { 'if-none-match': `W/${tag}, "other"` } } },
        ];
      }),
    );
    await expectSame('patients', tagged.flat());
    const [legacy, service] = await both('patients', `/api/patients/${mrns[0]}`, { headers: { 'if-none-match': (await ask(scene.legacy.base, `/api/patients/${mrns[0]}`)).headers.etag! } });
    expect([legacy.status, service.status]).toEqual([304, 304]);
  });

  it('searches by name prefixes and birth dates, with paging, in byte order', async () => {
    const names = new Set<string>();
    for (const p of patients.slice(0, 60)) {
      names.add(p.lastName.slice(0, 1));
      names.add(p.lastName.slice(0, 3));
      names.add(`${p.lastName.slice(0, 2).toLowerCase()},${p.firstName.slice(0, 1)}`);
      names.add(`  ${p.lastName} , ${p.firstName.slice(0, 2)} `);
    }
    for (const odd of ["O'", 'MC', 'ST.', 'SMITH-', 'A,', 'Z', 'q']) names.add(odd);
    const requests: { path: string }[] = [];
    for (const name of names) {
      const q = encodeURIComponent(name);
      requests.push({ path: `/api/patients?name=${q}` }, { path: `/api/patients?name=${q}&pageSize=3&page=2` });
    }
    for (const p of patients.slice(0, 40)) {
      requests.push({ path: `/api/patients?dob=${p.dateOfBirth}` }, { path: `/api/patients?dob=${p.dateOfBirth}&name=${p.lastName.slice(0, 1)}` });
    }
    for (let page = 1; page <= 16; page++) requests.push({ path: `/api/patients?pageSize=20&page=${page}` });
    requests.push({ path: '/api/patients' }, { path: '/api/patients?pageSize=100&page=3' }, { path: '/api/patients?page=999999' }, { path: '/api/patients?pageSize=1&page=300' });
    requests.push({ path: '/api/patients?ignored=1&name=B' });
    await expectSame('patients', requests);
  });

  it("every patient's encounters and results, with date filters", async () => {
    await expectSame('patients', mrns.map((m) => ({ path: `/api/encounters?mrn=${m}` })));
    await expectSame('results', mrns.map((m) => ({ path: `/api/results?mrn=${m}` })));
    const { rows } = await scene.legacy.pool.query<{ mrn: string; day: string }>(
      `SELECT DISTINCT ON (PAT_MRN) PAT_MRN AS mrn, to_char(COLLECT_DT, 'YYYY-MM-DD') AS day FROM LAB_RESULT ORDER BY PAT_MRN, COLLECT_DT LIMIT 40`,
    );
    await expectSame(
      'results',
      rows.flatMap((r) => [
        { path: `/api/results?mrn=${r.mrn}&from=${r.day}` },
        { path: `/api/results?mrn=${r.mrn}&to=${r.day}` },
        { path: `/api/results?mrn=${r.mrn}&from=${r.day}&to=${r.day}` },
        { path: `/api/results?mrn=${r.mrn}&from=2000-01-01&to=2030-12-31` },
      ]),
    );
  });

  it('refuses invalid reads as the legacy does', async () => {
    const patientPaths = [
      '/api/patients/12345',
      '/api/patients/abc123',
      '/api/patients/12345678901',
      '/api/patients/999999',
      '/api/patients/1234567890',
      '/api/patients/%20100001',
      '/api/patients?page=0',
      '/api/patients?page=1.0',
      '/api/patients?page=abc',
      '/api/patients?page=1000000',
      '/api/patients?pageSize=101',
      '/api/patients?pageSize=0',
      '/api/patients?pageSize=',
      '/api/patients?page=1&page=2',
      '/api/patients?name=1abc',
      '/api/patients?name=A,B,C',
      `/api/patients?name=${'A'.repeat(61)}`,
      '/api/patients?name=',
      '/api/patients?name=%3Cscript%3E',
      '/api/patients?dob=2023-02-30',
      '/api/patients?dob=20230101',
      '/api/patients?dob=2023-02-30&page=0&pageSize=500&name=9',
      '/api/encounters',
      '/api/encounters?mrn=',
      '/api/encounters?mrn=12ab',
      '/api/encounters?mrn=999999',
      '/api/encounters?mrn=100001&mrn=100002',
      '/api/nothing',
      '/api/patients/100001/extra',
    ];
    await expectSame('patients', patientPaths.map((path) => ({ path })));
    await expectSame(
      'patients',
      ['DELETE', 'PATCH', 'OPTIONS'].map((method) => ({ path: `/api/patients/${mrns[0]}`, init: { method } })),
    );
    await expectSame('patients', [{ path: '/api/encounters', init: { method: 'POST', ...json({}) } }]);
    const resultPaths = [
      '/api/results',
      '/api/results?mrn=1',
      '/api/results?mrn=999999',
      `/api/results?mrn=${mrns[0]}&from=2024-13-01`,
      `/api/results?mrn=${mrns[0]}&from=2024-07-01&to=2024-06-30`,
      `/api/results?mrn=${mrns[0]}&to=yesterday`,
      `/api/results?mrn=999999&from=2024-07-01&to=2024-06-30`,
    ];
    await expectSame('results', resultPaths.map((path) => ({ path })));
  });
});

/** a write's answer with what two systems cannot share masked: the MRN each assigns, and when */
function masked(a: Answer, mrn?: string): Answer {
  let body = a.body.replace(/"(created|lastUpdated)":"[^"]*"/g, '"$1":"…"');
  if (mrn) body = body.split(`"mrn":"${mrn}"`).join('"mrn":"…"');
  return { status: a.status, headers: { ...a.headers, etag: a.headers.etag ? '…' : null, location: a.headers.location ? a.headers.location.replace(/\d+$/, '…') : null }, body };
}

describe('writes answer as the legacy does', () => {
  const valid = {
    lastName: "o'neill-smith ",
    firstName: 'mary',
    middleName: 'k',
    dateOfBirth: '1980-02-29',
    sex: 'F',
    address: { line1: '12 main st', city: 'springfield', state: 'il', zip: '62701-1234' },
    phone: '217 555-0101',
    maritalStatus: 'M',
  };

  it('registers: 201, Location, ETag and the same patient, MRN aside (the service assigns from its block)', async () => {
    const bodies = [valid, { lastName: 'Zed', firstName: 'Ann', dateOfBirth: '2001-01-01', sex: 'U' }, { ...valid, address: null, phone: null, active: false, created: 'x', lastUpdated: 'y', lastUpdatedBy: 'z' }];
    for (const [i, b] of bodies.entries()) {
      const [legacy, service] = await both('patients', '/api/patients', { method: 'POST', ...json(b, i === 0 ? { 'x-user-id': 'clerk.7' } : {}) });
      expect(legacy.status).toBe(201);
      const legacyMrn = (JSON.parse(legacy.body) as LegacyPatient).mrn;
      const serviceMrn = (JSON.parse(service.body) as LegacyPatient).mrn;
      expect(masked(service, serviceMrn)).toEqual(masked(legacy, legacyMrn));
      expect(service.headers.location).toBe(`/api/patients/${serviceMrn}`);
      expect(Number(serviceMrn)).toBeGreaterThanOrEqual(9_000_000);
      // what was registered reads back the same
      const [l, s] = await Promise.all([ask(scene.legacy.base, `/api/patients/${legacyMrn}`), ask(scene.patients.url, `/api/patients/${serviceMrn}`)]);
      expect(masked(s, serviceMrn)).toEqual(masked(l, legacyMrn));
    }
  });

  it('refuses invalid registrations the same way: 400 with the same fields, 413, 415', async () => {
    const cases: RequestInit[] = [
      json({}),
      json({ ...valid, lastName: '', firstName: '1x', sex: 'm', dateOfBirth: '1980-02-30' }),
      json({ ...valid, address: { zip: '1234', state: 'Illinois', city: '9', extra: 1 } }),
      json({ ...valid, mrn: '100001' }),
      json({ ...valid, dateOfBirth: '2999-01-01' }),
      json({ ...valid, dateOfBirth: '1879-12-31' }),
      json({ ...valid, nickname: 'M' }),
      json({ ...valid, phone: '12' }),
      json({ ...valid, maritalStatus: 'X', active: 'yes' }),
      json([valid]),
      json('text'),
      json(null),
      { headers: { 'content-type': 'application/json' }, body: '{"lastName": "X",' },
      { headers: { 'content-type': 'application/json' }, body: '' },
      { headers: { 'content-type': 'text/plain' }, body: JSON.stringify(valid) },
      { headers: { 'content-type': 'application/xml' }, body: '<patient/>' },
      { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...valid, address: { line1: 'x'.repeat(17 * 1024) } }) },
      { body: JSON.stringify(valid) },
    ];
    await expectSame('patients', cases.map((init) => ({ path: '/api/patients', init: { method: 'POST', ...init } })));
  });

  it('updates: full replace, no-op keeps lastUpdated and the ETag, If-Match, 404, 400', async () => {
    const target = patients[5]!;
    const path = `/api/patients/${target.mrn}`;
    // sending back what was read changes nothing: both answer the very same bytes
    await expectSame('patients', [{ path, init: { method: 'PUT', ...json(target) } }]);
    const tag = (await ask(scene.legacy.base, path)).headers.etag!;
    await expectSame('patients', [
      { path, init: { method: 'PUT', ...json(target, { 'if-match': '"stale"' }) } },
      { path, init: { method: 'PUT', ...json(target, { 'if-match': `W/${tag}` }) } },
      { path, init: { method: 'PUT', ...json(target, { 'if-match': tag }) } },
      { path, init: { method: 'PUT', ...json({ ...target, mrn: '100001' }) } },
      { path, init: { method: 'PUT', ...json({ ...target, sex: 'X' }) } },
      { path: '/api/patients/999999', init: { method: 'PUT', ...json({ ...target, mrn: undefined }) } },
      { path: '/api/patients/999999', init: { method: 'PUT', ...json({ lastName: 'X' }) } },
      { path: '/api/patients/12', init: { method: 'PUT', ...json(target) } },
      { path, init: { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: 'x' } },
    ]);
    // a real change: the same patient, with a new lastUpdated on both sides
    const changed = { ...target, lastName: 'Renamed', address: { city: 'peoria' }, phone: undefined, maritalStatus: undefined, active: undefined };
    const [legacy, service] = await both('patients', path, { method: 'PUT', ...json(changed, { 'x-user-id': 'bad user id!' }) });
    expect(legacy.status).toBe(200);
    expect(masked(service)).toEqual(masked(legacy));
    expect(JSON.parse(service.body)).toMatchObject({ lastName: 'RENAMED', address: { line1: null, city: 'PEORIA', state: null, zip: null }, phone: null, active: true, lastUpdatedBy: 'HISAPI' });
    // and the same change again is a no-op on both
    const [legacyAgain, serviceAgain] = await both('patients', path, { method: 'PUT', ...json(changed, { 'x-user-id': 'bad user id!' }) });
    expect(legacyAgain.body).toBe(legacy.body);
    expect(serviceAgain.body).toBe(service.body);
    expect(serviceAgain.headers.etag).toBe(service.headers.etag);
  });
});
