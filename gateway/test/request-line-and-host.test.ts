/**
 * The request line and Host, as RFC 9112 has them and nginx 1.22 answers them. A Host that is
 * empty or not a host and port (`a/b`, `u@a`, `a:99999`) is refused 400 (RFC 9112 §3.2), as is
 * a WebSocket handshake without one; a version other than HTTP/1.x gets 505 (`HTTP/2.0` and
 * `HTTP/0.9` were served as HTTP/1.1, `HTTP/3.0` got 400); a request line alone over the head's
 * 16 KiB gets 414 (431 before). Each refusal is counted under rule "-", closes the connection,
 * and nothing of it reaches an upstream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '@ficus/contracts';
import { legacyDefaultOnly, startLegacyAndNew, type TwoUpstreams } from './support/gateway-harness.js';
import { rawExchange } from './support/raw-http.js';

let scene: TwoUpstreams;
const logged: Record<string, unknown>[] = [];

beforeAll(async () => {
  scene = await startLegacyAndNew(legacyDefaultOnly);
  scene.gw.gateway.runtime.accessLog = { info: (line: Record<string, unknown>) => void logged.push(line) } as unknown as Logger;
});
afterAll(() => scene?.close());

const exchange = (bytes: string) => rawExchange(scene.gw.url, Buffer.from(bytes, 'latin1'));

async function refusals(): Promise<Record<string, number>> {
  const text = await (await fetch(scene.gw.url + '/metrics')).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^ficus_http_requests_total\{rule="-",target="-",fallback="false",code="(\d+)"\} (\d+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

/** The paths legacy got since `since`, once a request sent after them has been answered through it. */
let markers = 0;
async function legacyGot(since: number): Promise<string[]> {
  const marker = `/marker-${++markers}`;
  expect((await fetch(scene.gw.url + marker)).status).toBe(200);
  return scene.legacy.received.slice(since).map((r) => r.url).filter((u) => u !== marker);
}

/** The one answer on a connection the gateway closed after it: status, head, problem. */
function onlyAnswer(got: string): { status: number; head: string; problem: { type: string; status: number; detail: string } } {
  expect(got.match(/HTTP\/1\.1 \d{3} /g), got.slice(0, 200)).toHaveLength(1);
  const [head, body] = got.split('\r\n\r\n') as [string, string];
  expect(head).toMatch(/\r\ncontent-type: application\/problem\+json\r\n/i);
  expect(head).toMatch(/\r\nconnection: close(\r\n|$)/i);
  return { status: Number(head.slice(9, 12)), head, problem: JSON.parse(body) };
}

describe('a Host that is empty or not a host and port', () => {
  const hosts = ['', 'a/b', 'a b', 'a\tb', 'u@legacy', 'a\\b', 'a:abc', 'a:99999', ':80', '[::1', 'ehr.example.\xe9'];

  it('is refused 400 problem+json, counted, the connection closed and nothing sent upstream', async () => {
    const before = await refusals();
    const since = scene.legacy.received.length;
    const sinceLog = logged.length;
    for (const [i, host] of hosts.entries()) {
      const { status, problem } = onlyAnswer(await exchange(`GET /host-${i} HTTP/1.1\r\nHost: ${host}\r\n\r\n`));
      expect([status, problem.type], JSON.stringify(host)).toEqual([400, 'https://ficus.dev/problems/bad-request']);
      expect(problem.detail).toMatch(/Host header is empty or not a valid host and port/);
    }
    // HTTP/1.0 may leave Host out, but not send an invalid one (nginx refuses it too)
    expect(onlyAnswer(await exchange('GET /host-http10 HTTP/1.0\r\nHost: \r\n\r\n')).status).toBe(400);
    expect(await legacyGot(since)).toEqual([]);
    expect((await refusals())['400']).toBe((before['400'] ?? 0) + hosts.length + 1);
    expect(logged.slice(sinceLog).filter((l) => l.rule === '-' && l.status === 400)).toHaveLength(hosts.length + 1);
  });

  it('never sends a request pipelined behind it', async () => {
    const since = scene.legacy.received.length;
    const got = await exchange('GET /refused HTTP/1.1\r\nHost: a/b\r\n\r\nPOST /behind-bad-host HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi');
    expect(onlyAnswer(got).status).toBe(400);
    expect(await legacyGot(since)).toEqual([]);
  });

  it('is refused on a WebSocket handshake, and so is a handshake without Host', async () => {
    const since = scene.legacy.received.length;
    const upgrade = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    const bad = onlyAnswer(await exchange(`GET /ws/bad-host HTTP/1.1\r\nHost: u@legacy\r\n${upgrade}`));
    expect([bad.status, bad.problem.detail]).toEqual([400, expect.stringMatching(/not a valid host and port/)]);
    const none = onlyAnswer(await exchange(`GET /ws/no-host HTTP/1.1\r\n${upgrade}`));
    expect([none.status, none.problem.detail]).toEqual([400, expect.stringMatching(/must have a Host header/)]);
    expect(await legacyGot(since)).toEqual([]);
  });

  it('a plain HTTP/1.1 request without Host gets the same 400 problem+json, counted and logged, not a bare 400', async () => {
    const before = await refusals();
    const since = scene.legacy.received.length;
    const sinceLog = logged.length;
    const none = onlyAnswer(await exchange('GET /no-host HTTP/1.1\r\nAccept: */*\r\n\r\n'));
    expect([none.status, none.problem.type, none.problem.detail]).toEqual([400, 'https://ficus.dev/problems/bad-request', expect.stringMatching(/must have a Host header/)]);
    // pipelined behind it: never sent
    expect(onlyAnswer(await exchange('POST /no-host HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /behind HTTP/1.1\r\nHost: a\r\n\r\n')).status).toBe(400);
    expect(await legacyGot(since)).toEqual([]);
    expect((await refusals())['400']).toBe((before['400'] ?? 0) + 2);
    expect(logged.slice(sinceLog).filter((l) => l.rule === '-' && l.status === 400)).toHaveLength(2);
  });

  it('while a valid Host, or none on HTTP/1.0, is served', async () => {
    const since = scene.legacy.received.length;
    for (const host of ['legacy', 'EHR.example.org:8443', '127.0.0.1:65535', '[::1]:8080', 'a:']) {
      const got = await exchange(`GET /served HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      expect(got, host).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    }
    expect(await exchange('GET /served HTTP/1.0\r\n\r\n')).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(scene.legacy.received.slice(since).filter((r) => r.url === '/served')).toHaveLength(6);
  });
});

describe('a request line with a version other than HTTP/1.x', () => {
  const lines = ['GET /v-0 HTTP/2.0', 'GET /v-1 HTTP/3.0', 'GET /v-2 HTTP/0.9', 'GET /v-3', 'GET /v-4 HTTP/1.2', 'GET /v-5 HTTP/11.1'];

  it('is answered 505 problem+json, counted, the connection closed and nothing sent upstream', async () => {
    const before = await refusals();
    const since = scene.legacy.received.length;
    for (const line of lines) {
      const { status, problem } = onlyAnswer(await exchange(`${line}\r\nHost: a\r\n\r\nGET /behind-${line.slice(5, 8)} HTTP/1.1\r\nHost: a\r\n\r\n`));
      expect([status, problem.type], line).toEqual([505, 'https://ficus.dev/problems/http-version-not-supported']);
    }
    const upgrade = onlyAnswer(await exchange('GET /ws/v HTTP/2.0\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'));
    expect(upgrade.status).toBe(505);
    expect(await legacyGot(since)).toEqual([]);
    expect((await refusals())['505']).toBe((before['505'] ?? 0) + lines.length + 1);
  });

  it('while a malformed version stays 400', async () => {
    expect(onlyAnswer(await exchange('GET / HTTP/1.1x\r\nHost: a\r\n\r\n')).status).toBe(400);
  });
});

describe('a request line over the 16 KiB of the head', () => {
  const target = '/' + 'a'.repeat(20_000);

  it('is answered 414 problem+json, counted, and nothing sent upstream', async () => {
    const before = await refusals();
    const since = scene.legacy.received.length;
    const { status, problem } = onlyAnswer(await exchange(`GET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`));
    expect([status, problem.type]).toEqual([414, 'https://ficus.dev/problems/uri-too-long']);
    expect(problem.detail).toMatch(/request target is longer than the gateway takes \(16 KiB/);
    expect(await legacyGot(since)).toEqual([]);
    expect((await refusals())['414']).toBe((before['414'] ?? 0) + 1);
  });

  it('pipelined behind a whole request, after its answer', async () => {
    const got = await exchange(`GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET ${target} HTTP/1.1\r\nHost: a\r\n\r\n`);
    expect([...got.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => m[1])).toEqual(['200', '414']);
  });

  it('while a head too large for its headers stays 431, as a target just under the limit does', async () => {
    const headers = onlyAnswer(await exchange(`GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n`));
    expect(headers.status).toBe(431);
    // the target's 16,383 bytes are under the limit; the Host header's take the head over it
    const under = onlyAnswer(await exchange(`GET /${'a'.repeat(16_382)} HTTP/1.1\r\nHost: a\r\n\r\n`));
    expect(under.status).toBe(431);
  });
});
