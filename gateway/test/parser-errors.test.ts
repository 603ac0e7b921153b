/**
 * Requests Node's HTTP parser refuses before any rule sees them (a lower-case method, a
 * non-ASCII byte in the target, two Content-Lengths, a head too large) are answered like the
 * gateway's own errors: problem+json, `Connection: close`, the connection closed after the
 * answer (nginx's way), and counted under rule "-". They came back as fastify's
 * `{"error":"Bad Request","message":"Client Error"}`. Pipelined behind whole requests, the
 * refusal comes after their answers, in order; bytes after a request that closes the connection
 * get no answer at all (both went out first, in place of the answers owed, a POST's included).
 */
import { rawExchange } from './support/raw-http.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '@ficus/contracts';
import { legacyDefaultOnly, startLegacyAndNew, type TwoUpstreams } from './support/gateway-harness.js';

let scene: TwoUpstreams;
const logged: Record<string, unknown>[] = [];

beforeAll(async () => {
  scene = await startLegacyAndNew(legacyDefaultOnly);
  scene.gw.gateway.runtime.accessLog = { info: (line: Record<string, unknown>) => void logged.push(line) } as unknown as Logger;
});
afterAll(() => scene?.close());

const exchange = (bytes: string | Buffer) => rawExchange(scene.gw.url, bytes);

async function refused(code: number): Promise<number> {
  const text = await (await fetch(scene.gw.url + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(`ficus_http_requests_total{rule="-",target="-",fallback="false",code="${code}"}`));
  return Number(line?.split(' ').pop() ?? 0);
}

const cases: [name: string, bytes: Buffer, status: string, type: string, detail: RegExp][] = [
  ['a lower-case method', Buffer.from('get /api/patients/100001 HTTP/1.1\r\nHost: a\r\n\r\n'), '400 Bad Request', 'bad-request', /methods are case-sensitive/],
  [
    'a non-ASCII byte in the target',
    Buffer.concat([Buffer.from('GET /api/patients/Jos'), Buffer.from('é'), Buffer.from(' HTTP/1.1\r\nHost: a\r\n\r\n')]),
    '400 Bad Request',
    'bad-request-target',
    /escape it as %XX/,
  ],
  ['two Content-Lengths', Buffer.from('POST /api/patients HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'), '400 Bad Request', 'bad-request', /Content-Length repeated/],
  ['a head too large', Buffer.from(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n`), '431 Request Header Fields Too Large', 'request-header-fields-too-large', /larger than the gateway takes \(16 KiB\)/],
];

describe('a request the HTTP parser refuses', () => {
  it('gets problem+json with Connection: close, is counted under rule "-" and access-logged', async () => {
    const since = logged.length;
    const before = { 400: await refused(400), 431: await refused(431) };
    for (const [name, bytes, status, type, detail] of cases) {
      const got = await exchange(bytes);
      expect(got, name).toMatch(new RegExp(`^HTTP/1\\.1 ${status}\\r\\n`));
      const [head, body] = got.split('\r\n\r\n') as [string, string];
      expect(head, name).toMatch(/\r\ncontent-type: application\/problem\+json\r\n/);
      expect(head, name).toMatch(/\r\nconnection: close(\r\n|$)/);
      const problem = JSON.parse(body) as { type: string; status: number; detail: string; instance: string };
      expect(problem.type, name).toBe(`https://ficus.dev/problems/${type}`);
      expect(problem.status, name).toBe(Number(status.slice(0, 3)));
      expect(problem.detail, name).toMatch(detail);
      expect(head, name).toContain(`\r\nx-request-id: ${problem.instance.replace('urn:ficus:request:', '')}\r\n`);
    }
    expect(await refused(400)).toBe(before[400] + 3);
    expect(await refused(431)).toBe(before[431] + 1);
    expect(logged.slice(since).map((l) => [l.method, l.rule, l.status])).toEqual([
      ['-', '-', 400],
      ['-', '-', 400],
      ['-', '-', 400],
      ['-', '-', 431],
    ]);
    expect(JSON.stringify(logged.slice(since))).not.toMatch(/100001|Jos|patients/);
    // and the gateway serves the next client as usual
    expect((await fetch(scene.gw.url + '/api/patients/100001')).status).toBe(200);
  });
});

describe('bytes the parser refuses, pipelined behind whole requests', () => {
  const statuses = (got: string) => [...got.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1]);

  it('are answered after the requests before them, each of which is answered in order', async () => {
    const since = scene.legacy.received.length;
    const got = await exchange(
      'POST /first HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi' +
        'GET /second HTTP/1.1\r\nHost: a\r\n\r\n' +
        'POST /third HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab',
    );
    expect(statuses(got)).toEqual(['200', '200', '400']);
    expect(got).toMatch(/\r\nconnection: close\r\n\r\n\{[^}]*Content-Length repeated/);
    expect(scene.legacy.received.slice(since).map((r) => r.url).sort()).toEqual(['/first', '/second']);
  });

  it('after a request that closes the connection: that request is answered, and nothing more', async () => {
    for (const closing of ['POST /closing HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi', 'GET /closing HTTP/1.0\r\nHost: a\r\n\r\n']) {
      const got = await exchange(`${closing}GET /more HTTP/1.1\r\nHost: a\r\n\r\n`);
      expect(statuses(got), closing).toEqual(['200']);
      // the whole answer: chunked to HTTP/1.1, delimited by the close to HTTP/1.0
      expect(got, closing).toMatch(/\r\n\r\n(6\r\nlegacy\r\n0\r\n\r\n|legacy)$/);
    }
  });
});
