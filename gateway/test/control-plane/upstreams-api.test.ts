/**
 * GET /api/upstreams against a real gateway on a real rule store (PostgreSQL, Redis), over two
 * real upstreams: the new service is stopped, the gateway's active health checks open its
 * circuit, and the admin API says so (since when, why, the last error without any request's
 * path) with the rules that target it and what the open circuit does to each; real requests
 * through the gateway do what the warnings say. A flip shows in the answer once this instance
 * serves it. The service comes back: closed again. No token or a wrong one: 401.
 */
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { until } from '../../../test-support/until.js';
import type { UpstreamsAnswer, UpstreamState } from '../../src/admin/routes/upstream-routes.js';
import { bucketOf, DEFAULT_SALT } from '../../src/routing/canary.js';
import { header, rawRequest } from '../support/raw-http.js';
import { adminClient, roleClient, startStoreGateway, type AdminClient, type StoreGateway } from '../support/store-gateway.js';
import { startTestUpstream, type TestUpstream } from '../support/test-upstream.js';

const MRN = '8004711';

const files = (legacyUrl: string, newUrl: string) => ({
  '00-upstreams.yaml': `upstreams:
  legacy: { url: "${legacyUrl}", healthCheck: { intervalMs: 200, timeoutMs: 1000, unhealthyAfter: 3, healthyAfter: 1 } }
  patient-service:
    url: "${newUrl}"
    healthCheck: { intervalMs: 200, timeoutMs: 1000, unhealthyAfter: 1, healthyAfter: 1 }
    circuitBreaker: { failureThreshold: 5, openMs: 5000 }
`,
  '10-http.yaml': `http:
  - id: patients-read
    match: { methods: [GET], path: /api/patients/:mrn }
    mode: new
    target: patient-service
    sticky: { param: mrn }
  - id: patients-write
    match: { methods: [POST, PUT], paths: [/api/patients, /api/patients/:mrn] }
    mode: canary
    percent: 50
    target: patient-service
    sticky: { param: mrn }
  - id: patients-search
    match: { methods: [GET], path: /api/patients }
    mode: shadow
    target: patient-service
  - id: encounters-read
    match: { methods: [GET], path: /api/encounters/:mrn }
    mode: legacy
    target: patient-service
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`,
});

let db: TestDatabase;
let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: StoreGateway;
let admin: AdminClient;

const read = async () => {
  const r = await admin.get<UpstreamsAnswer>('/api/upstreams');
  expect(r.status).toBe(200);
  return r.body;
};
const upstream = (a: UpstreamsAnswer, name: string): UpstreamState => {
  const u = a.upstreams.find((x) => x.name === name);
  if (!u) throw new Error(`no upstream ${name} in ${a.upstreams.map((x) => x.name).join(', ')}`);
  return u;
};
/** polls until patient-service is as wanted, and answers the whole answer */
const when = (what: string, ok: (u: UpstreamState, a: UpstreamsAnswer) => boolean, ms = 15_000) =>
  until(async () => {
    const a = await read();
    return ok(upstream(a, 'patient-service'), a) ? a : undefined;
  }, what, ms);

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'upstreams_api');
  legacy = await startTestUpstream('legacy');
  fresh = await startTestUpstream('new');
  gw = await startStoreGateway({ storeUrl: db.url, redisUrl: inject('redisUrl'), files: files(legacy.url, fresh.url) });
  admin = adminClient(gw.adminUrl);
});

afterAll(async () => {
  await gw?.close();
  await legacy?.close();
  await fresh?.close();
  await db?.drop();
});

describe('GET /api/upstreams', () => {
  it('refuses no token and a wrong one (401, problem body, WWW-Authenticate); any role may read it', async () => {
    for (const token of [undefined, 'ficus_wrong-token-0123456789abcdefghijklmnopqrstu']) {
      const res = await fetch(gw.adminUrl + '/api/upstreams', { headers: token ? { authorization: `Bearer ${token}` } : {} });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await res.json()).toMatchObject({ type: 'https://ficus.dev/problems/unauthorized', status: 401 });
    }
    const viewer = await roleClient(admin, gw.adminUrl, 'upstreams-viewer', 'viewer');
    expect((await viewer.get('/api/upstreams')).status).toBe(200);
  });

  it("answers this instance's view: each upstream healthy and closed, with the rules that name it", async () => {
    const a = await when('patient-service healthy', (u) => u.health === 'healthy' && u.circuit.state === 'closed');
    expect(a.scope).toBe('instance');
    expect(a.note).toMatch(/^This gateway instance's view/);
    // the gateway runs in this process
    expect(a.instance).toMatchObject({ hostname: hostname(), pid: process.pid });
    expect(a.rules).toEqual({ source: 'store', version: 1, state: 'ready' });
    expect(a.upstreams.map((u) => u.name)).toEqual(['legacy', 'patient-service']);
    const svc = upstream(a, 'patient-service');
    expect(svc).toMatchObject({ health: 'healthy', healthChecks: { enabled: true, intervalMs: 200 }, circuit: { state: 'closed' }, lastError: null, warnings: [] });
    // closed since the upstream was declared, or since a first check under load passed late
    expect([null, 'health check passed']).toContain(svc.circuit.reason);
    expect(svc.rules).toEqual([
      { id: 'patients-read', mode: 'new', role: 'target', percent: null, fallback: true, sends: true },
      { id: 'patients-write', mode: 'canary', role: 'target', percent: 50, fallback: true, sends: true },
      { id: 'patients-search', mode: 'shadow', role: 'target', percent: null, fallback: true, sends: true },
      { id: 'encounters-read', mode: 'legacy', role: 'target', percent: null, fallback: true, sends: false },
    ]);
    expect(upstream(a, 'legacy').rules.map((r) => `${r.id}:${r.role}`)).toEqual(['patients-read:legacy', 'patients-write:legacy', 'patients-search:legacy', 'encounters-read:legacy', 'legacy-default:legacy']);
    expect((await fetch(gw.adminUrl + '/openapi.json').then((r) => r.json()) as { paths: Record<string, unknown> }).paths).toHaveProperty('/api/upstreams');
  });

  it('says the circuit is open once the health checks find the new service down, names the rules and what it does to them; the gateway does just that', async () => {
    const stoppedAt = Date.now();
    await fresh.stop();
    const a = await when('patient-service open', (u) => u.circuit.state === 'open' && u.health === 'unhealthy' && Date.parse(u.circuit.since) >= stoppedAt);
    const svc = upstream(a, 'patient-service');
    const since = Date.parse(svc.circuit.since);
    expect(since).toBeGreaterThanOrEqual(stoppedAt);
    expect(since).toBeLessThanOrEqual(Date.parse(a.at));
    expect(svc.circuit.reason).toMatch(/^health check failed: /);
    // the health check's own error (connection refused, or closed under it): short, one line
    expect(svc.lastError).toMatch(/^[^\n]{1,200}$/);
    expect(svc.warnings).toEqual([
      { rule: 'patients-read', mode: 'new', text: 'patients-read: new → patient-service, circuit open: safe requests answered by legacy (fallback), others 503' },
      {
        rule: 'patients-write',
        mode: 'canary',
        text: 'patients-write: canary 50 % → patient-service, circuit open: every request 503 (only GET, HEAD, OPTIONS fall back to legacy); the other 50 % of keys stay on legacy',
      },
      { rule: 'patients-search', mode: 'shadow', text: 'patients-search: shadow → patient-service, circuit open: legacy answers as always; no shadow copies are sent (nothing compared)' },
    ]);
    // the rules' legacy side is another upstream: no warning there
    expect(upstream(a, 'legacy').warnings).toEqual([]);

    // real requests do what the warnings say
    const readRes = await rawRequest(gw.url, 'GET', `/api/patients/${MRN}`);
    expect(readRes.status).toBe(200);
    expect(header(readRes, 'x-ficus-route')).toBe('patients-read; legacy (fallback)');
    let onTarget = 100;
    while (bucketOf(DEFAULT_SALT, String(onTarget)) >= 5_000) onTarget++;
    const write = await rawRequest(gw.url, 'PUT', `/api/patients/${onTarget}`, { 'content-type': 'application/json' }, '{"name":"DOE^JANE"}');
    expect(write.status).toBe(503);

    // nothing of those requests (paths, MRNs, bodies) in the answer
    const after = JSON.stringify(await read());
    for (const phi of [MRN, `/api/patients/${onTarget}`, 'DOE^JANE', '/api/']) expect(after).not.toContain(phi);
  });

  it('follows the rules this instance serves: a flip shows once it is applied here', async () => {
    const flip = await admin.post<{ version: number }>('/api/rules/encounters-read/flip', { mode: 'new', reason: 'pilot on ward 7', baseVersion: 1 });
    expect(flip.status).toBe(200);
    const a = await when('version 2 served', (_u, x) => x.rules.version === 2);
    const svc = upstream(a, 'patient-service');
    expect(svc.rules.find((r) => r.id === 'encounters-read')).toEqual({ id: 'encounters-read', mode: 'new', role: 'target', percent: null, fallback: true, sends: true });
    expect(svc.warnings.map((w) => w.rule)).toEqual(['patients-read', 'patients-write', 'patients-search', 'encounters-read']);
  });

  it('says closed again once the new service is back, from the time it came back', async () => {
    const before = await read();
    const openSince = Date.parse(upstream(before, 'patient-service').circuit.since);
    const backAt = Date.now();
    await fresh.restart();
    const a = await when('patient-service closed', (u) => u.circuit.state === 'closed' && u.health === 'healthy');
    const svc = upstream(a, 'patient-service');
    expect(Date.parse(svc.circuit.since)).toBeGreaterThanOrEqual(backAt);
    expect(Date.parse(svc.circuit.since)).toBeGreaterThan(openSince);
    expect(svc.circuit.reason).toBe('health check passed');
    expect(svc.lastError).toBeNull();
    expect(svc.warnings).toEqual([]);
    const res = await rawRequest(gw.url, 'GET', `/api/patients/${MRN}`);
    expect(header(res, 'x-ficus-route')).toBe('patients-read; patient-service');
  });
});
