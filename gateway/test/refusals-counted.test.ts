/**
 * The gateway's own refusals (a bad target, two Hosts, TRACE, no rule) are counted in
 * ficus_http_requests_total and access-logged like every answer ≥ 400: before, they returned
 * before the exchange's bookkeeping and left no trace. Rule and target are "-", which no rule
 * id can be; the path and query are never logged (they may carry an MRN).
 */
import { rawExchange } from './support/raw-http.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '@ficus/contracts';
import { quietUpstreamsYaml, startLegacyAndNew, type TwoUpstreams } from './support/gateway-harness.js';

let scene: TwoUpstreams;
const logged: Record<string, unknown>[] = [];

beforeAll(async () => {
  // no catch-all rule: what is outside /api gets 404 no-route
  scene = await startLegacyAndNew((u) => ({
    'u.yaml': quietUpstreamsYaml({ legacy: u.legacy, 'new-svc': u.fresh }),
    'r.yaml': 'http:\n  - id: api\n    match: { path: /api/** }\n    mode: legacy\n',
  }));
  const runtime = scene.gw.gateway.runtime;
  runtime.accessLog = { info: (line: Record<string, unknown>) => void logged.push(line) } as unknown as Logger;
  runtime.accessLogAll = false;
});
afterAll(() => scene?.close());

const exchange = (bytes: string | Buffer) => rawExchange(scene.gw.url, bytes);

async function refusals(): Promise<Record<string, number>> {
  const text = await (await fetch(scene.gw.url + '/metrics')).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^ficus_http_requests_total\{rule="-",target="-",fallback="false",code="(\d+)"\} (\d+)$/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

describe("the gateway's own refusals", () => {
  it('are counted under rule "-" and access-logged without path or query', async () => {
    const before = await refusals();
    const since = logged.length;
    const statusOf = (got: string) => Number(/^HTTP\/1\.1 (\d{3}) /.exec(got)?.[1]);
    expect(statusOf(await exchange('GET /api/patients/4455667/../x?mrn=4455667 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'))).toBe(400);
    expect(statusOf(await exchange('GET /api/patients/4455667#mrn=4455667 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'))).toBe(400);
    expect(statusOf(await exchange('GET /api/patients/4455667 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'))).toBe(400);
    expect(statusOf(await exchange('TRACE /api/patients/4455667 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'))).toBe(501);
    expect(statusOf(await exchange('DELETE /other/4455667?mrn=4455667 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n'))).toBe(404);

    const after = await refusals();
    const gained = (code: string) => (after[code] ?? 0) - (before[code] ?? 0);
    expect({ 400: gained('400'), 404: gained('404'), 501: gained('501') }).toEqual({ 400: 3, 404: 1, 501: 1 });

    const lines = logged.slice(since);
    expect(lines.map((l) => [l.method, l.rule, l.target, l.status])).toEqual([
      ['GET', '-', '-', 400],
      ['GET', '-', '-', 400],
      ['GET', '-', '-', 400],
      ['TRACE', '-', '-', 501],
      ['DELETE', '-', '-', 404],
    ]);
    for (const l of lines) {
      expect(l.reqId).toEqual(expect.any(String));
      expect(l.ms).toEqual(expect.any(Number));
    }
    expect(JSON.stringify(lines)).not.toMatch(/4455667|\/api|\/other/);

    // a proxied request is still counted under its rule, and not logged when it succeeds
    expect((await fetch(scene.gw.url + '/api/x')).status).toBe(200);
    expect(await refusals()).toEqual(after);
    expect(logged.length).toBe(since + 5);
  });
});
