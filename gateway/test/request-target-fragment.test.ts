/**
 * A `#` in a request target. A target never carries a fragment (RFC 9112 §3.2), yet Node's
 * http.get and Python's http.client send one as written, and the upstream (find-my-way, most
 * servers) ends the path at the first `?` or `#` and reads what follows as the query. Read as
 * "path, then a fragment to drop", `/api/results#mrn=102782` reached legacy past a retired
 * rule that needs `mrn`, and legacy served that patient's results. Such targets are refused.
 * Sent over raw sockets: fetch and undici strip fragments before sending.
 */
import { rawExchange } from './support/raw-http.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietUpstreamsYaml, startLegacyAndNew, type TwoUpstreams } from './support/gateway-harness.js';

let scene: TwoUpstreams;

const rules = `http:
  - id: results-read
    match: { methods: [GET], path: /api/results, query: { mrn: { present: true } } }
    mode: retired
    target: new-svc
  - id: encounters-read
    match: { methods: [GET], path: /api/encounters, query: { mrn: { present: true } } }
    mode: canary
    percent: 50
    target: new-svc
    sticky: { query: mrn }
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;

beforeAll(async () => {
  scene = await startLegacyAndNew((u) => ({ 'u.yaml': quietUpstreamsYaml({ legacy: u.legacy, 'new-svc': u.fresh }), 'r.yaml': rules }));
});
afterAll(() => scene?.close());

const exchange = (bytes: string | Buffer) => rawExchange(scene.gw.url, bytes);

const get = (target: string) => exchange(`GET ${target} HTTP/1.1\r\nHost: his.example\r\nConnection: close\r\n\r\n`);

function expectRefused(got: string): void {
  expect(got).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
  expect(got).toMatch(/\r\ncontent-type: application\/problem\+json/i);
  const body = JSON.parse(got.slice(got.indexOf('\r\n\r\n') + 4)) as { type: string; detail: string };
  expect(body.type).toBe('https://ficus.dev/problems/bad-request-target');
  expect(body.detail).toMatch(/request target cannot carry a fragment/);
}

describe('a request target with a fragment', () => {
  it('is refused with 400 problem+json, and reaches neither legacy nor the new service', async () => {
    const before = { legacy: scene.legacy.received.length, fresh: scene.fresh.received.length };
    for (const target of ['/api/results#mrn=102782', '/api/encounters#&mrn=B&x?mrn=A', '/api/results?mrn=1#x', '/#', '/api/results#']) {
      expectRefused(await get(target));
    }
    expect(scene.legacy.received.slice(before.legacy).map((r) => r.url)).toEqual([]);
    expect(scene.fresh.received.slice(before.fresh).map((r) => r.url)).toEqual([]);
    // escaped, "#" is data; without a fragment, the same request is routed as ever
    expect(await get('/api/results?mrn=102782')).toMatch(/\r\nx-ficus-route: results-read; new-svc\r\n/i);
    expect(await get('/api/results?mrn=1%2302')).toMatch(/\r\nx-ficus-route: results-read; new-svc\r\n/i);
    expect(await get('/files/a%23b')).toMatch(/\r\nx-ficus-route: legacy-default; legacy\r\n/i);
  });

  it('is refused in absolute form too (URL parsing would have dropped it silently)', async () => {
    const before = scene.legacy.received.length + scene.fresh.received.length;
    expectRefused(await get('http://his.example/api/results#mrn=102782'));
    expect(scene.legacy.received.length + scene.fresh.received.length).toBe(before);
  });

  it('is refused on a WebSocket upgrade as well', async () => {
    const got = await exchange(
      'GET /ws#mrn=102782 HTTP/1.1\r\nHost: his.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    expect(got).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(got).toMatch(/cannot carry a fragment/);
  });
});

describe('an absolute-form target that is no URL', () => {
  it('is refused with 400 problem+json, not thrown out of the request handler (which ended the process)', async () => {
    for (const target of ['http://[/api/results', 'http://:99999/x', 'https://x:y@/a']) {
      const got = await get(target);
      expect(got).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
      expect(got).toMatch(/"type":"https:\/\/ficus\.dev\/problems\/bad-request-target"/);
    }
    expect(await get('/api/results?mrn=1')).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });
});
