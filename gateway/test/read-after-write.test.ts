/**
 * Read your own writes across a migration, over real sockets: after a write that legacy
 * answered, reads of the same path (and of what a POST created, by its Location) are answered
 * by legacy for FICUS_READ_AFTER_WRITE_MS, whatever the rule says, so a client never reads the
 * new service's older copy of what it just saved and writes that back. Then the rule applies
 * again. A failed write holds nothing; a retired rule is never sent to legacy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietUpstreamsYaml, startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';
import { header, rawRequest } from './support/raw-http.js';
import { answer, startTestUpstream, type TestUpstream } from './support/test-upstream.js';

let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: GatewayUnderTest;

beforeAll(async () => {
  legacy = await startTestUpstream('legacy', (req, res) => {
    if (req.method === 'POST') {
      res.writeHead(201, { location: 'http://legacy.example/p/77', 'content-type': 'text/plain' });
      res.end('created');
    } else if (req.url === '/p/refused') answer(409, 'conflict')(req, res, Buffer.alloc(0));
    else answer(200, 'legacy')(req, res, Buffer.alloc(0));
  });
  fresh = await startTestUpstream('new');
  gw = await startGatewayUnderTest(
    {
      'u.yaml': quietUpstreamsYaml({ legacy: legacy.url, 'new-svc': fresh.url }),
      'r.yaml': `http:
  - id: reads
    match: { methods: [GET, HEAD], path: /p/:id }
    mode: new
    target: new-svc
  - id: old-reads
    match: { methods: [GET], path: /r/:id }
    mode: retired
    target: new-svc
  - id: writes
    match: { methods: [POST, PUT], paths: [/p, /p/:id, /r/:id] }
    mode: legacy
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`,
    },
    { FICUS_READ_AFTER_WRITE_MS: '1500' },
  );
});
afterAll(async () => {
  await gw?.close();
  await legacy?.close();
  await fresh?.close();
});

const routeOf = async (method: string, path: string, body?: string) => header(await rawRequest(gw.url, method, path, body ? { 'content-type': 'text/plain' } : {}, body), 'x-ficus-route');

describe('read after write', () => {
  it('keeps reads of a path just written through legacy on legacy, then the rule applies again', async () => {
    expect(await routeOf('GET', '/p/1')).toBe('reads; new-svc');
    expect(await routeOf('PUT', '/p/1', 'NAME=CORRECTED')).toBe('writes; legacy');
    expect(await routeOf('GET', '/p/1')).toBe('reads; legacy (after a write)');
    expect(await routeOf('HEAD', '/p/1')).toBe('reads; legacy (after a write)');
    expect(await routeOf('GET', '/p/1?fields=name')).toBe('reads; legacy (after a write)');
    // another patient's chart is not held
    expect(await routeOf('GET', '/p/2')).toBe('reads; new-svc');
    // what a POST created, by its Location
    expect(await routeOf('POST', '/p', 'NEW=1')).toBe('writes; legacy');
    expect(await routeOf('GET', '/p/77')).toBe('reads; legacy (after a write)');
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/^ficus_reads_after_write_total\{rule="reads"\} 4$/m);
    // then the rule again
    const until = Date.now() + 10_000;
    while ((await routeOf('GET', '/p/1')) !== 'reads; new-svc') {
      expect(Date.now()).toBeLessThan(until);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  it('a refused write holds nothing, and a retired rule never sends a read to legacy', async () => {
    expect(await routeOf('PUT', '/p/refused', 'X=1')).toBe('writes; legacy');
    expect(await routeOf('GET', '/p/refused')).toBe('reads; new-svc');
    expect(await routeOf('PUT', '/r/5', 'X=1')).toBe('writes; legacy');
    expect(await routeOf('GET', '/r/5')).toBe('old-reads; new-svc');
  });
});
