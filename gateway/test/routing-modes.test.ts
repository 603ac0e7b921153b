import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayUnderTest, startLegacyAndNew, upstreamsYaml, type GatewayUnderTest, type TwoUpstreams } from './support/gateway-harness.js';
import { answer, receivedFor, type TestUpstream } from './support/test-upstream.js';

let scene: TwoUpstreams;
let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: GatewayUnderTest;

const rules = `
http:
  - id: r-legacy
    match: { methods: [GET], path: /legacy/** }
    mode: legacy
    target: new-svc
  - id: r-new
    match: { path: /new/** }
    mode: new
    target: new-svc
  - id: r-retired
    match: { path: /retired/** }
    mode: retired
    target: new-svc
  - id: r-canary
    match: { methods: [GET], path: /canary/:id }
    mode: canary
    percent: 50
    target: new-svc
    sticky: { param: id }
  - id: r-header
    match: { path: /api/**, headers: { x-pilot-ward: { equals: ICU } } }
    mode: new
    target: new-svc
  - id: r-query
    match: { path: /api/**, query: { beta: { present: true } } }
    mode: new
    target: new-svc
  - id: r-retired-query
    match: { methods: [GET], path: /census, query: { mrn: { present: true } } }
    mode: retired
    target: new-svc
  - id: r-canary-query
    match: { methods: [GET], path: /results }
    mode: canary
    percent: 50
    target: new-svc
    sticky: { query: mrn }
  - id: everything-else
    match: { path: /** }
    mode: legacy
`;

beforeAll(async () => {
  scene = await startLegacyAndNew((u) => ({ 'a.yaml': upstreamsYaml({ legacy: u.legacy, 'new-svc': u.fresh }), 'b.yaml': rules }));
  ({ legacy, fresh, gw } = scene);
});
afterAll(() => scene?.close());

async function get(path: string, init: RequestInit = {}) {
  const res = await fetch(gw.url + path, init);
  return { status: res.status, body: await res.text(), route: res.headers.get('x-ficus-route'), headers: res.headers };
}

describe('routing modes', () => {
  it('legacy mode sends to legacy and names the rule', async () => {
    const r = await get('/legacy/thing');
    expect(r).toMatchObject({ status: 200, body: 'legacy', route: 'r-legacy; legacy' });
  });

  it('a method the rule does not list falls through to the next rule', async () => {
    const r = await get('/legacy/thing', { method: 'POST', body: 'x' });
    expect(r.route).toBe('everything-else; legacy');
  });

  it('GET rules also take HEAD', async () => {
    const r = await get('/legacy/thing', { method: 'HEAD' });
    expect(r.route).toBe('r-legacy; legacy');
  });

  it('new and retired send to the target', async () => {
    expect(await get('/new/x')).toMatchObject({ body: 'new', route: 'r-new; new-svc' });
    expect(await get('/retired/x')).toMatchObject({ body: 'new', route: 'r-retired; new-svc' });
  });

  it('header and query predicates select rules', async () => {
    expect((await get('/api/x', { headers: { 'x-pilot-ward': 'ICU' } })).route).toBe('r-header; new-svc');
    expect((await get('/api/x', { headers: { 'x-pilot-ward': 'ER' } })).route).toBe('everything-else; legacy');
    expect((await get('/api/x?beta')).route).toBe('r-query; new-svc');
    expect((await get('/api/x?alpha=1')).route).toBe('everything-else; legacy');
  });

  it('canary keeps each key on one side and splits keys between both', async () => {
    const sides = new Map<string, string>();
    for (let i = 0; i < 60; i++) {
      const a = await get(`/canary/P${i}`);
      const b = await get(`/canary/P${i}`);
      expect(b.route).toBe(a.route);
      sides.set(`P${i}`, a.route ?? '');
    }
    const toNew = [...sides.values()].filter((r) => r === 'r-canary; new-svc').length;
    expect(toNew).toBeGreaterThan(10);
    expect(toNew).toBeLessThan(50);
  });

  // fetch would normalise these paths itself; send them as written
  const rawAt = (base: string, path: string) =>
    new Promise<{ status: number; type: string | undefined; route: string | undefined; body: string }>((resolve, reject) => {
      const req = request(base + '/', { path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], route: res.headers['x-ficus-route'] as string | undefined, body }));
      });
      req.on('error', reject);
      req.end();
    });
  const raw = (path: string) => rawAt(gw.url, path);

  it('refuses paths that could mean something else upstream', async () => {
    for (const p of ['/retired/../legacy/x', '/retired/%2e%2E/x', '/retired/./x', '/api\\x', '/api%5cx', '/x%00', '/legacy/..;/retired/x', '/legacy/.;a=b/x']) {
      expect(await raw(p), p).toMatchObject({ status: 400, type: 'application/problem+json' });
    }
    expect((await raw('/retired/..x')).status).toBe(200);
  });

  it('a retired path spelled as only some servers read it still goes to the target, never to legacy', async () => {
    const legacyBefore = legacy.received.length;
    const before = fresh.received.length;
    // a run of slashes is one slash (nginx, Apache, IIS): the target gets the merged path
    expect(await raw('//retired//x///y?next=//z')).toMatchObject({ status: 200, route: 'r-retired; new-svc' });
    expect(receivedFor(fresh, '/retired/x/y?next=//z', before).method).toBe('GET');
    // path parameters name no resource (Tomcat, Jetty): matched without them, forwarded as written
    expect(await raw('/retired;jsessionid=A1/x')).toMatchObject({ status: 200, route: 'r-retired; new-svc' });
    expect(receivedFor(fresh, '/retired;jsessionid=A1/x', before).method).toBe('GET');
    expect(legacy.received.slice(legacyBefore).filter((r) => r.url.includes('retired'))).toEqual([]);
    // the sticky key is the parameter without path parameters: one patient, one side
    for (let i = 0; i < 20; i++) expect((await raw(`/canary;v=2/P${i};x=1`)).route, `P${i}`).toBe((await raw(`/canary/P${i}`)).route);
  });

  it('with FICUS_PATHS_CASE_INSENSITIVE, a path or a query name in other case takes the rule, as an IIS legacy would read it', async () => {
    expect(await raw('/RETIRED/x')).toMatchObject({ route: 'everything-else; legacy' });
    expect(await raw('/census?MRN=100001')).toMatchObject({ route: 'everything-else; legacy' });
    const ci = await startGatewayUnderTest({ 'a.yaml': upstreamsYaml({ legacy: legacy.url, 'new-svc': fresh.url }), 'b.yaml': rules }, { FICUS_PATHS_CASE_INSENSITIVE: 'true' });
    try {
      const before = fresh.received.length;
      const res = await fetch(`${ci.url}/Retired/Some/Thing`);
      expect(res.headers.get('x-ficus-route')).toBe('r-retired; new-svc');
      expect(receivedFor(fresh, '/Retired/Some/Thing', before).method).toBe('GET');
      for (let i = 0; i < 20; i++) {
        const [upper, lower] = await Promise.all([fetch(`${ci.url}/CANARY/P${i}`), fetch(`${ci.url}/canary/P${i}`)]);
        expect(upper.headers.get('x-ficus-route'), `P${i}`).toBe(lower.headers.get('x-ficus-route'));
      }
      // ASP.NET reads ?MRN= as ?mrn=: a retired rule that needs mrn is not bypassed by its case
      const legacyBefore = legacy.received.length;
      const freshBefore = fresh.received.length;
      for (const q of ['MRN=100001', 'Mrn=100001', 'from=2026&mRn=100001']) expect((await fetch(`${ci.url}/census?${q}`)).headers.get('x-ficus-route'), q).toBe('r-retired-query; new-svc');
      expect(legacy.received.slice(legacyBefore).filter((r) => r.url.includes('census'))).toEqual([]);
      // forwarded as the client wrote it
      expect(receivedFor(fresh, '/census?MRN=100001', freshBefore).method).toBe('GET');
      // one patient, one side, whatever the case of the sticky key's name; its value as written
      const sides = new Set<string | null>();
      for (let i = 0; i < 20; i++) {
        const [upper, lower] = await Promise.all([fetch(`${ci.url}/results?MRN=P${i}`), fetch(`${ci.url}/results?mrn=P${i}`)]);
        expect(upper.headers.get('x-ficus-route'), `P${i}`).toBe(lower.headers.get('x-ficus-route'));
        sides.add(lower.headers.get('x-ficus-route'));
      }
      expect([...sides].sort()).toEqual(['r-canary-query; legacy', 'r-canary-query; new-svc']);
    } finally {
      await ci.close();
    }
  });

  it('with FICUS_ENCODED_SLASHES=decode, a retired path with escaped slashes takes the rule; with refuse, 400', async () => {
    // kept (the default), an escaped slash is data: one segment, which only the catch-all takes
    expect(await raw('/retired%2Fx')).toMatchObject({ status: 200, route: 'everything-else; legacy' });
    expect(await raw('/retired/x%2F..%2F..%2Flegacy%2Fy')).toMatchObject({ status: 400, type: 'application/problem+json' });
    const decoding = await startGatewayUnderTest({ 'a.yaml': upstreamsYaml({ legacy: legacy.url, 'new-svc': fresh.url }), 'b.yaml': rules }, { FICUS_ENCODED_SLASHES: 'decode' });
    const refusing = await startGatewayUnderTest({ 'a.yaml': upstreamsYaml({ legacy: legacy.url, 'new-svc': fresh.url }), 'b.yaml': rules }, { FICUS_ENCODED_SLASHES: 'refuse' });
    try {
      const legacyBefore = legacy.received.length;
      const before = fresh.received.length;
      const res = await rawAt(decoding.url, '/retired%2Fsome%2fthing');
      expect(res).toMatchObject({ status: 200, route: 'r-retired; new-svc' });
      // forwarded as the client wrote it: the target reads it as it reads any other request
      expect(receivedFor(fresh, '/retired%2Fsome%2fthing', before).method).toBe('GET');
      expect(legacy.received.slice(legacyBefore).filter((r) => r.url.toLowerCase().includes('retired'))).toEqual([]);
      const refused = await rawAt(refusing.url, '/retired%2Fsome');
      expect(refused).toMatchObject({ status: 400, type: 'application/problem+json' });
      expect(refused.body).toContain('escaped slash');
      expect(await rawAt(refusing.url, '/retired/some')).toMatchObject({ status: 200, route: 'r-retired; new-svc' });
    } finally {
      await Promise.all([decoding.close(), refusing.close()]);
    }
  });

  it('sets forwarding headers and passes the request id', async () => {
    const before = fresh.received.length;
    const r = await get('/new/headers', {
      headers: { 'x-request-id': 'req-123', 'x-forwarded-for': '10.1.2.3', 'x-real-ip': '10.9.9.9', forwarded: 'for=10.9.9.9;proto=https' },
    });
    expect(r.headers.get('x-request-id')).toBe('req-123');
    const seen = receivedFor(fresh, '/new/headers', before);
    expect(seen.headers['x-request-id']).toBe('req-123');
    expect(seen.headers['x-forwarded-for']).toBe('10.1.2.3, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe(new URL(gw.url).host);
    expect(seen.headers.via).toBe('1.1 ficus');
    expect(r.headers.get('via')).toContain('1.1 ficus');
    // no load balancer vouches for this client: what it claims of its address does not reach the upstream's audit
    expect(seen.headers['x-real-ip']).toBe('127.0.0.1');
    expect(seen.headers.forwarded).toBeUndefined();
  });

  it('keeps what a trusted load balancer says of the client', async () => {
    const trusting = await startGatewayUnderTest({ 'a.yaml': upstreamsYaml({ legacy: legacy.url, 'new-svc': fresh.url }), 'b.yaml': rules }, { FICUS_TRUST_FORWARDED: 'true' });
    try {
      const before = fresh.received.length;
      await fetch(`${trusting.url}/new/behind-lb`, { headers: { 'x-forwarded-proto': 'https', 'x-real-ip': '10.9.9.9', forwarded: 'for=10.9.9.9;proto=https' } });
      const seen = receivedFor(fresh, '/new/behind-lb', before);
      expect(seen.headers).toMatchObject({ 'x-forwarded-proto': 'https', 'x-real-ip': '10.9.9.9', forwarded: 'for=10.9.9.9;proto=https' });
    } finally {
      await trusting.close();
    }
  });

  it('makes a request id when the client sends none', async () => {
    const r = await get('/legacy/x');
    expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('passes upstream status codes and bodies unchanged', async () => {
    legacy.behave(answer(418, 'teapot', { 'x-legacy': 'yes' }));
    const r = await get('/legacy/tea');
    expect(r).toMatchObject({ status: 418, body: 'teapot' });
    expect(r.headers.get('x-legacy')).toBe('yes');
    legacy.behave(answer(200, 'legacy'));
  });
});
