/**
 * Read your own writes holds the whole chart, over real sockets: a patient registered (POST) or
 * updated (PUT) through legacy is read from legacy for FICUS_READ_AFTER_WRITE_MS whichever rule
 * serves the read (demographics, encounters, results), as the rules name the same `mrn`, so a
 * client never gets a chart half from legacy and half from a new service that has not had the
 * write through CDC yet (there: 404 ENC-404 where legacy says "no encounters"). Another
 * patient's reads, and a record whose rules name its key otherwise, are not held; after the
 * TTL the rules apply again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietUpstreamsYaml, startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';
import { header, rawRequest } from './support/raw-http.js';
import { answer, startTestUpstream, type TestUpstream } from './support/test-upstream.js';

let legacy: TestUpstream;
let patients: TestUpstream;
let results: TestUpstream;
let gw: GatewayUnderTest;

const ttlMs = 1_500;

beforeAll(async () => {
  legacy = await startTestUpstream('legacy', (req, res) => {
    if (req.method === 'POST' && req.url === '/api/patients') {
      res.writeHead(201, { location: '/api/patients/500001', 'content-type': 'application/json' });
      return void res.end('{"mrn":"500001"}');
    }
    answer(200, '{"total":0}')(req, res, Buffer.alloc(0));
  });
  // the new services have not had the write through CDC: they know no such patient yet
  patients = await startTestUpstream('patient-service', answer(404, '{"code":"ENC-404"}'));
  results = await startTestUpstream('results-service', answer(404, '{"code":"LAB-404"}'));
  gw = await startGatewayUnderTest(
    {
      'u.yaml': quietUpstreamsYaml({ legacy: legacy.url, 'patient-service': patients.url, 'results-service': results.url }),
      // the shipped rules (routing-rules/10-http.yaml) with the reads moved to the new services
      'r.yaml': `http:
  - id: patients-read
    match: { methods: [GET], path: /api/patients/:mrn }
    mode: new
    target: patient-service
    sticky: { param: mrn }
  - id: patients-write
    match: { methods: [POST, PUT], paths: [/api/patients, /api/patients/:mrn] }
    mode: legacy
    target: patient-service
    sticky: { param: mrn }
  - id: encounters-read
    match: { methods: [GET], path: /api/encounters, query: { mrn: { present: true } } }
    mode: new
    target: patient-service
    sticky: { query: mrn }
  - id: results-read
    match: { methods: [GET], path: /api/results, query: { mrn: { present: true } } }
    mode: canary
    percent: 100
    target: results-service
    sticky: { query: mrn }
  - id: orders-write
    match: { methods: [PUT], path: /api/orders/:id }
    mode: legacy
    sticky: { param: id }
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`,
    },
    { FICUS_READ_AFTER_WRITE_MS: String(ttlMs) },
  );
});
afterAll(async () => {
  await gw?.close();
  await legacy?.close();
  await patients?.close();
  await results?.close();
});

const routeOf = async (method: string, path: string, body?: string) => header(await rawRequest(gw.url, method, path, body ? { 'content-type': 'application/json' } : {}, body), 'x-ficus-route');

async function untilRouted(path: string, route: string): Promise<void> {
  const until = Date.now() + 10_000;
  while ((await routeOf('GET', path)) !== route) {
    expect(Date.now()).toBeLessThan(until);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('read after write, by patient', () => {
  it('before any write, every read goes where its rule says, and nothing is remembered', async () => {
    expect(await routeOf('GET', '/api/encounters?mrn=500001')).toBe('encounters-read; patient-service');
    expect(await routeOf('GET', '/api/results?mrn=500001')).toBe('results-read; results-service');
    expect(gw.gateway.runtime.recentWrites.size).toBe(0);
  });

  it('a patient registered through legacy is read whole from legacy: chart, encounters and results', async () => {
    expect(await routeOf('POST', '/api/patients', '{"familyName":"NEW"}')).toBe('patients-write; legacy');
    expect(await routeOf('GET', '/api/patients/500001')).toBe('patients-read; legacy (after a write)');
    const encounters = await rawRequest(gw.url, 'GET', '/api/encounters?mrn=500001');
    expect(header(encounters, 'x-ficus-route')).toBe('encounters-read; legacy (after a write)');
    expect([encounters.status, encounters.body.toString()]).toEqual([200, '{"total":0}']);
    expect(await routeOf('GET', '/api/results?mrn=500001')).toBe('results-read; legacy (after a write)');
    // another patient's chart is not held
    expect(await routeOf('GET', '/api/encounters?mrn=500002')).toBe('encounters-read; patient-service');
    expect(await routeOf('GET', '/api/results?mrn=500002')).toBe('results-read; results-service');
    // then the rules again
    await untilRouted('/api/results?mrn=500001', 'results-read; results-service');
    expect(await routeOf('GET', '/api/encounters?mrn=500001')).toBe('encounters-read; patient-service');
  });

  it('a patient updated through legacy holds that patient’s encounters and results, every copy of a repeated mrn counting', async () => {
    expect(await routeOf('PUT', '/api/patients/600001', '{"phone":"555-0199"}')).toBe('patients-write; legacy');
    expect(await routeOf('GET', '/api/results?mrn=600001')).toBe('results-read; legacy (after a write)');
    expect(await routeOf('GET', '/api/encounters?mrn=600001&from=2026-01-01')).toBe('encounters-read; legacy (after a write)');
    expect(await routeOf('GET', '/api/results?mrn=600002&mrn=600001')).toBe('results-read; legacy (after a write)');
    expect(await routeOf('GET', '/api/results?mrn=600002')).toBe('results-read; results-service');
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/^ficus_reads_after_write_total\{rule="encounters-read"\} 2$/m);
    await untilRouted('/api/results?mrn=600001', 'results-read; results-service');
  });

  it('a record whose rule names its key otherwise (`id`, not `mrn`) holds no patient of that number', async () => {
    expect(await routeOf('PUT', '/api/orders/700001', '{"status":"done"}')).toBe('orders-write; legacy');
    expect(await routeOf('GET', '/api/results?mrn=700001')).toBe('results-read; results-service');
  });
});
