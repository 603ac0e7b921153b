/**
 * A header (or query parameter) a rule tests, sent more than once. Node joins `x-ward: 7` sent
 * twice into "7, 7", which matched no `equals: "7"`: the request went to legacy past a retired
 * rule (a probe of the demo). Identical copies are one value now; copies that disagree about a
 * rule's condition are refused 400 `ambiguous-request`, never passed on to a later rule, as an
 * upstream may read either copy. Explain reads them the same way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger, RuleSet } from '@ficus/contracts';
import { explain } from '../src/admin/explain.js';
import { quietUpstreamsYaml, startLegacyAndNew, type TwoUpstreams } from './support/gateway-harness.js';
import { rawExchange } from './support/raw-http.js';

const RULES = `http:
  - id: census-7
    match: { methods: [GET], path: /reports/census.html, headers: { x-ward: { equals: "7" } } }
    mode: retired
    target: new-svc
  - id: results-ward
    match: { methods: [GET], path: /api/results, query: { ward: { regex: "^7$" } } }
    mode: retired
    target: new-svc
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;

let scene: TwoUpstreams;
const logged: Record<string, unknown>[] = [];

beforeAll(async () => {
  scene = await startLegacyAndNew((u) => ({ 'u.yaml': quietUpstreamsYaml({ legacy: u.legacy, 'new-svc': u.fresh }), 'r.yaml': RULES }));
  scene.gw.gateway.runtime.accessLog = { info: (line: Record<string, unknown>) => void logged.push(line) } as unknown as Logger;
});
afterAll(() => scene?.close());

interface Answer {
  status: number;
  route: string | undefined;
  body: string;
}

async function get(path: string, headerLines: string[] = []): Promise<Answer> {
  const got = await rawExchange(scene.gw.url, `GET ${path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n${headerLines.map((l) => l + '\r\n').join('')}\r\n`);
  const end = got.indexOf('\r\n\r\n');
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(got)?.[1]),
    route: /\r\nx-ficus-route: ([^\r\n]*)/i.exec(got.slice(0, end))?.[1],
    body: got.slice(end + 4),
  };
}

describe('a header a rule tests, sent more than once, through the gateway', () => {
  it('identical copies are one value: the retired rule takes the request (was legacy-default; legacy)', async () => {
    expect(await get('/reports/census.html', ['x-ward: 7'])).toMatchObject({ status: 200, route: 'census-7; new-svc' });
    expect(await get('/reports/census.html', ['x-ward: 7', 'X-Ward: 7'])).toMatchObject({ status: 200, route: 'census-7; new-svc' });
    expect(await get('/reports/census.html', ['x-ward: 8', 'x-ward: 9'])).toMatchObject({ status: 200, route: 'legacy-default; legacy' });
  });

  it('copies that disagree about the rule are refused 400, not passed to a later rule, and counted as a refusal', async () => {
    const received = scene.legacy.received.length + scene.fresh.received.length;
    const since = logged.length;
    for (const lines of [
      ['x-ward: 8', 'x-ward: 7'],
      ['x-ward: 7', 'x-ward: 8'],
    ]) {
      const got = await get('/reports/census.html', lines);
      expect(got.status).toBe(400);
      expect(JSON.parse(got.body)).toMatchObject({ type: expect.stringContaining('ambiguous-request'), detail: expect.stringContaining('header "x-ward"') });
    }
    const query = await get('/api/results?ward=8&ward=7');
    expect(query.status).toBe(400);
    expect(JSON.parse(query.body)).toMatchObject({ detail: expect.stringContaining('query parameter "ward"') });
    expect(scene.legacy.received.length + scene.fresh.received.length).toBe(received);
    expect(logged.slice(since).map((l) => [l.rule, l.status])).toEqual([
      ['-', 400],
      ['-', 400],
      ['-', 400],
    ]);
  });
});

describe('explain reads the copies as the proxy does', () => {
  const ruleSet: RuleSet = {
    upstreams: { legacy: { url: 'http://127.0.0.1:1' }, 'new-svc': { url: 'http://127.0.0.1:2' } },
    http: [
      { id: 'census-7', match: { methods: ['GET'], path: '/reports/census.html', headers: { 'x-ward': { equals: '7' } } }, mode: 'retired', target: 'new-svc' },
      { id: 'legacy-default', match: { path: '/**' }, mode: 'legacy' },
    ],
  };

  it('takes identical copies as one value and says a request with disagreeing ones is refused', () => {
    expect(explain(ruleSet, 'GET', '/reports/census.html', ['x-ward:7', 'X-Ward: 7'])).toMatchObject({ rule: 'census-7', target: 'new-svc' });
    const refused = explain(ruleSet, 'GET', '/reports/census.html', ['x-ward:7', 'x-ward:8']);
    expect(refused).toMatchObject({ rule: 'census-7', target: null });
    expect(refused.reason).toContain('400 ambiguous-request');
    expect(refused.reason).toContain('header "x-ward"');
  });
});
