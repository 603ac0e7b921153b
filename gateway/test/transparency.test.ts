/**
 * Through the gateway, the legacy API answers byte for byte as it does directly: status line,
 * headers (all but the hop-by-hop ones and those the gateway adds) in their order and case,
 * and bodies, for JSON, HTML, CSV, files, errors, conditional and HEAD requests.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../../test-support/legacy-his.js';
import { SHIPPED_RULES_DIR, startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';
import { header, rawRequest, type RawResponse } from './support/raw-http.js';

let his: Harness;
let gw: GatewayUnderTest;

beforeAll(async () => {
  his = await startHarness('gw_transparency', { patients: 300 });
  // the shipped rules, as a hospital would first deploy them: everything still on legacy
  gw = await startGatewayUnderTest({ dir: SHIPPED_RULES_DIR }, {}, { FICUS_UPSTREAM_LEGACY_URL: his.base });
});
afterAll(async () => {
  await gw?.close();
  await his?.close();
});

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding']);
const ADDED = new Set(['via', 'x-request-id', 'x-ficus-route']);

/** the headers that must be identical: all but hop-by-hop, added ones, and Date (a clock) */
function endToEnd(r: RawResponse): [string, string][] {
  return r.rawHeaders.filter(([k]) => !HOP_BY_HOP.has(k.toLowerCase()) && !ADDED.has(k.toLowerCase()) && k.toLowerCase() !== 'date');
}

async function both(method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  const direct = await rawRequest(his.base, method, path, headers, body);
  const proxied = await rawRequest(gw.url, method, path, headers, body);
  return { direct, proxied };
}

function expectSame(direct: RawResponse, proxied: RawResponse, label: string) {
  expect(proxied.status, label).toBe(direct.status);
  expect(proxied.statusText, label).toBe(direct.statusText);
  expect(endToEnd(proxied), label).toEqual(endToEnd(direct));
  expect(proxied.body.equals(direct.body), `${label}: body differs`).toBe(true);
  expect(header(proxied, 'date'), label).toBeDefined();
  // framing is the proxy's own business, but a chunked answer stays chunked
  expect(header(proxied, 'transfer-encoding'), label).toBe(header(direct, 'transfer-encoding'));
}

describe('transparent proxying of the legacy API', () => {
  const cases: [string, string, Record<string, string>?][] = [
    ['GET', '/api/patients/100001'],
    ['HEAD', '/api/patients/100001'],
    ['GET', '/api/patients/999999'],
    ['GET', '/api/patients/12ab'],
    ['GET', '/api/patients?name=S&pageSize=5'],
    ['GET', '/api/patients?name=SMITH,J'],
    ['GET', '/api/patients?pageSize=101'],
    ['GET', '/api/patients?page=2&pageSize=7', { accept: 'application/json' }],
    ['GET', '/api/encounters?mrn=100001'],
    ['GET', '/api/encounters?mrn=100002'],
    ['GET', '/api/encounters'],
    ['GET', '/api/results?mrn=100001'],
    ['GET', '/api/results?mrn=100001&from=2020-01-01&to=2024-12-31'],
    ['GET', '/api/results?mrn=nope'],
    ['GET', '/reports/census.html'],
    ['GET', '/export/patients.csv'],
    ['GET', '/files/download?sizeMb=3'],
    ['HEAD', '/files/download?sizeMb=5'],
    ['GET', '/reports/slow?delayMs=150'],
    ['GET', '/no/such/thing'],
    ['DELETE', '/api/patients/100001'],
    ['OPTIONS', '/api/patients'],
    ['GET', '/ws/echo'],
  ];
  for (const [method, path, headers] of cases) {
    it(`${method} ${path}`, async () => {
      const { direct, proxied } = await both(method, path, headers);
      expectSame(direct, proxied, `${method} ${path}`);
      expect(header(proxied, 'x-ficus-route')).toMatch(/^[a-z-]+; legacy$/);
      expect(header(proxied, 'x-request-id')).toBeDefined();
    });
  }

  it('routes each shipped rule by its id', async () => {
    const route = async (method: string, path: string, body?: string) =>
      header(await rawRequest(gw.url, method, path, body ? { 'content-type': 'application/json' } : {}, body), 'x-ficus-route');
    expect(await route('GET', '/api/patients/100001')).toBe('patients-read; legacy');
    expect(await route('GET', '/api/patients?name=S')).toBe('patients-search; legacy');
    expect(await route('PUT', '/api/patients/100001', '{}')).toBe('patients-write; legacy');
    expect(await route('GET', '/api/encounters?mrn=100001')).toBe('encounters-read; legacy');
    expect(await route('GET', '/api/results?mrn=100001')).toBe('results-read; legacy');
    expect(await route('GET', '/reports/census.html')).toBe('legacy-default; legacy');
  });

  it('answers conditional requests the same (ETag, 304)', async () => {
    const first = await rawRequest(his.base, 'GET', '/api/patients/100003');
    const etag = header(first, 'etag')!;
    expect(etag).toBeDefined();
    const { direct, proxied } = await both('GET', '/api/patients/100003', { 'if-none-match': etag });
    expect(proxied.status).toBe(304);
    expectSame(direct, proxied, '304');
  });

  it('passes writes and their answers (201 with Location, 400 with details, 200 on update)', async () => {
    const patient = JSON.stringify({ lastName: 'TRANSPARENT', firstName: 'TEST', dateOfBirth: '1980-02-29', sex: 'F' });
    const created = await rawRequest(gw.url, 'POST', '/api/patients', { 'content-type': 'application/json', 'x-user-id': 'gwtest' }, patient);
    expect(created.status).toBe(201);
    const location = header(created, 'location')!;
    expect(location).toMatch(/^\/api\/patients\/\d+$/);
    const stored = await rawRequest(his.base, 'GET', location);
    expect(JSON.parse(stored.body.toString())).toEqual(JSON.parse(created.body.toString()));

    const bad = await both('POST', '/api/patients', { 'content-type': 'application/json' }, '{"lastName": 5}');
    expectSame(bad.direct, bad.proxied, 'invalid POST');
    expect(bad.proxied.status).toBe(400);

    // a no-op PUT of the stored copy answers the same both ways
    const copy = stored.body.toString();
    const put = await both('PUT', location, { 'content-type': 'application/json' }, copy);
    expectSame(put.direct, put.proxied, 'PUT');
    expect(put.proxied.status).toBe(200);
  });

  it('uploads pass through and arrive whole', async () => {
    const payload = Buffer.alloc(3 * 1024 * 1024 + 17, 'x');
    const { direct, proxied } = await both('POST', '/files/upload', { 'content-type': 'application/octet-stream' }, payload.toString());
    expectSame(direct, proxied, 'upload');
    expect(JSON.parse(proxied.body.toString())).toMatchObject({ bytes: payload.length });
  });
});
