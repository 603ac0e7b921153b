/**
 * Details a hospital integration engineer checks before trusting a proxy: Host handling per
 * upstream, 204 and HEAD framing, canary keys from headers, queries and cookies, the route
 * header switch, graceful shutdown, and logs without PHI.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../../test-support/until.js';
import { bucketOf } from '../src/routing/canary.js';
import { startLegacyAndNew, type GatewayUnderTest, type TwoUpstreams } from './support/gateway-harness.js';
import { startGatewayProcess } from './support/gateway-process.js';
import { HeldAnswers } from './support/held-answers.js';
import { header, rawRequest } from './support/raw-http.js';
import { answer, receivedFor, startTestUpstream, type TestUpstream } from './support/test-upstream.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

let scene: TwoUpstreams;
let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: GatewayUnderTest;

const upstreams = (legacyUrl: string, newUrl: string) => `upstreams:
  legacy: { url: "${legacyUrl}", preserveHost: true, healthCheck: { enabled: false } }
  new-svc: { url: "${newUrl}", preserveHost: false, healthCheck: { enabled: false } }
`;
const rules = `http:
  - id: by-header
    match: { path: /h/** }
    mode: canary
    percent: 50
    target: new-svc
    sticky: { header: x-patient-id }
  - id: by-query
    match: { path: /q/** }
    mode: canary
    percent: 50
    target: new-svc
    sticky: { query: mrn }
  - id: by-cookie
    match: { path: /c/** }
    mode: canary
    percent: 50
    target: new-svc
    sticky: { cookie: ward-session }
  - id: to-new
    match: { path: /new/** }
    mode: new
    target: new-svc
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;

beforeAll(async () => {
  scene = await startLegacyAndNew((u) => ({ 'u.yaml': upstreams(u.legacy, u.fresh), 'r.yaml': rules }));
  ({ legacy, fresh, gw } = scene);
});
afterAll(() => scene?.close());

describe('Host header per upstream', () => {
  it('keeps the client Host for an upstream with preserveHost, and uses the upstream own otherwise', async () => {
    const n = legacy.received.length;
    await rawRequest(gw.url, 'GET', '/anything', { host: 'his.hospital.example' });
    expect(receivedFor(legacy, '/anything', n).headers.host).toBe('his.hospital.example');
    const m = fresh.received.length;
    await rawRequest(gw.url, 'GET', '/new/x', { host: 'his.hospital.example' });
    expect(receivedFor(fresh, '/new/x', m).headers.host).toBe(new URL(fresh.url).host);
    expect(receivedFor(fresh, '/new/x', m).headers['x-forwarded-host']).toBe('his.hospital.example');
  });

  it('drops hop-by-hop request headers, including those named in Connection', async () => {
    const n = legacy.received.length;
    await rawRequest(gw.url, 'GET', '/anything', { connection: 'keep-alive, x-secret-hop', 'x-secret-hop': 'drop me', 'keep-alive': 'timeout=5', 'x-end-to-end': 'keep me' });
    const seen = receivedFor(legacy, '/anything', n).headers;
    expect(seen['x-secret-hop']).toBeUndefined();
    expect(seen['keep-alive']).toBeUndefined();
    expect(seen['x-end-to-end']).toBe('keep me');
  });

  it('never passes a Ficus admin token on (a client given the gateway for the admin API), and every other Authorization as it came', async () => {
    const n = legacy.received.length;
    await rawRequest(gw.url, 'GET', '/api/rules', { authorization: 'Bearer ficus_V3ry-s3cret_admin-token' });
    expect(receivedFor(legacy, '/api/rules', n).headers.authorization).toBeUndefined();
    const m = fresh.received.length;
    await rawRequest(gw.url, 'GET', '/new/rules', { authorization: 'bearer  ficus_V3ry-s3cret_admin-token' });
    expect(receivedFor(fresh, '/new/rules', m).headers.authorization).toBeUndefined();
    const k = legacy.received.length;
    await rawRequest(gw.url, 'GET', '/api/chart', { authorization: 'Bearer legacy-session-4711' });
    expect(receivedFor(legacy, '/api/chart', k).headers.authorization).toBe('Bearer legacy-session-4711');
  });
});

describe('methods that echo or tunnel', () => {
  it('answers TRACE itself with 501 problem+json (TRACK gets 400 from the HTTP parser), and passes neither on', async () => {
    const n = legacy.received.length;
    const r = await rawRequest(gw.url, 'TRACE', '/api/patients/100001', { cookie: 'JSESSIONID=secret', authorization: 'Basic c2VjcmV0' });
    expect(r.status).toBe(501);
    expect(header(r, 'content-type')).toBe('application/problem+json');
    const body = JSON.parse(r.body.toString()) as { status: number; detail: string };
    expect(body.status).toBe(501);
    expect(body.detail).toContain('TRACE');
    expect(r.body.toString()).not.toContain('secret');
    expect((await rawRequest(gw.url, 'TRACK', '/api/patients/100001')).status).toBe(400);
    // the same path with GET still goes through
    expect((await rawRequest(gw.url, 'GET', '/api/patients/100001')).status).toBe(200);
    expect(legacy.received.slice(n).map((x) => x.method)).toEqual(['GET']);
  });

  it('answers CONNECT with 501 and closes, opening no tunnel', async () => {
    const { port } = new URL(legacy.url);
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(gw.url).port), '127.0.0.1', () => socket.write(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n\r\n`));
      let text = '';
      socket.setEncoding('utf8').on('data', (d: string) => (text += d));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 501 Not Implemented\r\n/);
    expect(reply).toContain('application/problem+json');
    expect(reply).toContain('"status":501');
  });
});

describe('framing', () => {
  it('passes 204 and HEAD answers without a body', async () => {
    legacy.behave((_req, res) => {
      res.writeHead(204, { 'x-done': 'yes' });
      res.end();
    });
    const r = await rawRequest(gw.url, 'DELETE', '/api/sessions/1');
    expect(r.status).toBe(204);
    expect(r.body.length).toBe(0);
    expect(header(r, 'x-done')).toBe('yes');
    legacy.behave((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '11' });
      res.end('hello world');
    });
    const head = await rawRequest(gw.url, 'HEAD', '/doc');
    expect(head.status).toBe(200);
    expect(header(head, 'content-length')).toBe('11');
    expect(head.body.length).toBe(0);
    legacy.behave(answer(200, 'legacy'));
  });

  it('relays a chunked answer with trailers', async () => {
    legacy.behave((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
      res.write('part one, ');
      res.write('part two');
      res.addTrailers({ 'x-checksum': 'abc123' });
      res.end();
    });
    const got = await new Promise<{ body: string; trailers: NodeJS.Dict<string> }>((resolve, reject) => {
      request(gw.url + '/chunked', (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ body, trailers: res.trailers }));
      })
        .on('error', reject)
        .end();
    });
    expect(got).toEqual({ body: 'part one, part two', trailers: { 'x-checksum': 'abc123' } });
    legacy.behave(answer(200, 'legacy'));
  });
});

describe('canary keys', () => {
  const side = async (path: string, headers: Record<string, string> = {}) => header(await rawRequest(gw.url, 'GET', path, headers), 'x-ficus-route');

  it('reads the key from a header, a query parameter or a cookie, and keeps each key on its side', async () => {
    const seen = { header: new Set<string>(), query: new Set<string>(), cookie: new Set<string>() };
    for (let i = 0; i < 40; i++) {
      const key = `10${String(i).padStart(4, '0')}`;
      const h = await side('/h/x', { 'x-patient-id': key });
      expect(await side('/h/other', { 'x-patient-id': key })).toBe(h);
      seen.header.add(h!);
      const q = await side(`/q/x?mrn=${key}&page=2`);
      expect(await side(`/q/y?page=3&mrn=${key}`)).toBe(q);
      seen.query.add(q!);
      const c = await side('/c/x', { cookie: `theme=dark; ward-session=${key}` });
      expect(await side('/c/y', { cookie: `ward-session=${key}` })).toBe(c);
      seen.cookie.add(c!);
    }
    expect([...seen.header].sort()).toEqual(['by-header; legacy', 'by-header; new-svc']);
    expect([...seen.query].sort()).toEqual(['by-query; legacy', 'by-query; new-svc']);
    expect([...seen.cookie].sort()).toEqual(['by-cookie; legacy', 'by-cookie; new-svc']);
  });

  it('reads a header sent twice as one key when the copies agree, and as no key (legacy) when they differ', async () => {
    // the route of a request whose head carries these header lines, as written
    const sideRaw = (lines: string[]) =>
      new Promise<string | undefined>((resolve, reject) => {
        const socket = connect(Number(new URL(gw.url).port), '127.0.0.1', () => socket.write(`GET /h/x HTTP/1.1\r\nHost: a\r\n${lines.map((l) => l + '\r\n').join('')}Connection: close\r\n\r\n`));
        let got = '';
        socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
        socket.on('end', () => resolve(/\r\nx-ficus-route: ([^\r]*)\r\n/i.exec(got)?.[1]));
        socket.on('error', reject);
      });
    const onNew = (key: string) => bucketOf('ficus', key) < 5_000;
    const firstKey = (ok: (key: string) => boolean) => {
      for (let i = 0; ; i++) if (ok(`nurse${i}`)) return `nurse${i}`;
    };
    // Node joins the copies: "k, k" used to be the key, on the side that string hashes to
    const same = firstKey((k) => onNew(k) && !onNew(`${k}, ${k}`));
    expect(await sideRaw([`x-patient-id: ${same}`])).toBe('by-header; new-svc');
    expect(await sideRaw([`x-patient-id: ${same}`, `X-Patient-Id: ${same}`])).toBe('by-header; new-svc');
    // copies that differ name no one patient: legacy, whichever copy an upstream would read
    const first = firstKey((k) => !onNew(k));
    const second = firstKey((k) => onNew(k) && onNew(`${first}, ${k}`));
    expect(await sideRaw([`x-patient-id: ${first}`, `x-patient-id: ${second}`])).toBe('by-header; legacy');
    expect(await sideRaw([`x-patient-id: ${second}`, `x-patient-id: ${second}`, `x-patient-id: ${first}`])).toBe('by-header; legacy');
    // one header whose value holds ", " is that value
    const commaKey = firstKey((k) => onNew(`${k}, ward 7`));
    expect(await sideRaw([`x-patient-id: ${commaKey}, ward 7`])).toBe('by-header; new-svc');
  });

  it('sends a request without a key to legacy', async () => {
    for (let i = 0; i < 10; i++) {
      expect(await side('/h/x')).toBe('by-header; legacy');
      expect(await side('/q/x?page=1')).toBe('by-query; legacy');
      expect(await side('/c/x', { cookie: 'other=1' })).toBe('by-cookie; legacy');
    }
  });
});

/** Whether the server at `url` accepts a new connection (a draining gateway has closed its port). */
function accepts(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('the gateway as a process', () => {
  it('omits x-ficus-route when switched off, finishes in-flight requests on SIGTERM, and logs no PHI', async () => {
    // the long report is answered only once the gateway is draining: in flight when SIGTERM came, whatever the load
    const held = new HeldAnswers();
    const slow = await startTestUpstream('slow', (req, res) => (req.url === '/reports/long' ? held.hold(() => res.end('report done')) : res.end('report done')));
    const dir = mkdtempSync(path.join(tmpdir(), 'ficus-rules-'));
    writeFileSync(path.join(dir, 'u.yaml'), `upstreams:\n  legacy: { url: "${slow.url}" }\n`);
    writeFileSync(path.join(dir, 'r.yaml'), 'http:\n  - id: patients-read\n    match: { path: /api/patients/:mrn }\n    mode: legacy\n  - id: legacy-default\n    match: { path: /** }\n    mode: legacy\n');
    const proc = await startGatewayProcess({ FICUS_RULES_DIR: dir, FICUS_ROUTE_HEADER: 'false', FICUS_ACCESS_LOG: 'all', LOG_LEVEL: 'debug' });
    let logs = '';
    proc.child.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
    try {
      const first = await fetch(`${proc.url}/api/patients/4455667?name=DOE,JANE&dob=1970-01-02`);
      expect(await first.text()).toBe('report done');
      expect(first.headers.get('x-ficus-route')).toBeNull();
      expect(first.headers.get('x-request-id')).not.toBeNull();

      // a request in flight when SIGTERM arrives is still answered
      const inFlight = fetch(`${proc.url}/reports/long`).then(async (r) => ({ status: r.status, body: await r.text() }));
      await held.arrived(1, 'the long report at the upstream');
      const code = proc.stop();
      await until(async () => !(await accepts(proc.url)), 'the gateway draining (its port closed)', 15_000);
      held.release();
      expect(await inFlight).toEqual({ status: 200, body: 'report done' });
      expect(await code).toBe(0);
    } finally {
      held.release();
      await proc.stop();
      await slow.close();
      rmSync(dir, { recursive: true, force: true });
    }
    const lines = logs.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const access = lines.filter((l) => l.log === 'access');
    expect(access.map((l) => [l.rule, l.status])).toEqual([
      ['patients-read', 200],
      ['legacy-default', 200],
    ]);
    for (const secret of ['4455667', 'DOE', 'JANE', '1970-01-02', '/api/patients/']) expect(logs).not.toContain(secret);
  });
});
