import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBlackhole } from './support/blackhole.js';
import { startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';
import { HeldAnswers } from './support/held-answers.js';
import { startTestUpstream, type TestUpstream } from './support/test-upstream.js';

let slow: TestUpstream;
let hole: Awaited<ReturnType<typeof startBlackhole>>;
let gw: GatewayUnderTest;
/** answers that come only when the test says, long after the gateway's 400 ms deadline */
const late = new HeldAnswers();

beforeAll(async () => {
  slow = await startTestUpstream('slow', (_req, res) => late.hold(() => res.end('late')));
  hole = await startBlackhole();
  const upstreams = `
upstreams:
  legacy:
    url: ${slow.url}
    timeouts: { connectMs: 500, responseHeadersMs: 400, bodyIdleMs: 400 }
    healthCheck: { enabled: false }
  unreachable:
    url: http://127.0.0.1:${hole.port}
    timeouts: { connectMs: 300, responseHeadersMs: 5000, bodyIdleMs: 5000 }
    healthCheck: { enabled: false }
`;
  const rules = `
http:
  - id: to-hole
    match: { path: /hole/** }
    mode: retired
    target: unreachable
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;
  gw = await startGatewayUnderTest({ 'u.yaml': upstreams, 'r.yaml': rules });
});
afterAll(async () => {
  late.release();
  await gw?.close();
  await slow?.close();
  hole?.close();
});

async function problemOf(path: string) {
  const started = Date.now();
  const res = await fetch(gw.url + path);
  return { status: res.status, type: res.headers.get('content-type'), body: (await res.json()) as Record<string, unknown>, ms: Date.now() - started, route: res.headers.get('x-ficus-route') };
}

async function running(upstream: string): Promise<number> {
  const text = await (await fetch(gw.url + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(`ficus_upstream_connections{upstream="${upstream}",state="running"}`));
  return Number(line?.split(' ').pop());
}

describe('timeouts', () => {
  it('an upstream that does not answer in time gives 504 with a problem body', async () => {
    const r = await problemOf('/report');
    expect(r.status).toBe(504);
    expect(r.type).toBe('application/problem+json');
    expect(r.body).toMatchObject({ status: 504, type: 'https://ficus.dev/problems/upstream-timeout', title: expect.any(String) });
    expect(r.body.detail).toBe('upstream "legacy": response-timeout');
    expect(r.body.instance).toMatch(/^urn:ficus:request:/);
    expect(r.route).toBe('legacy-default; legacy');
    // it waited responseHeadersMs (a lower bound: load only makes the wait longer)...
    expect(r.ms).toBeGreaterThanOrEqual(350);
    // ...and not for the answer, which the upstream still holds
    expect(late.held).toBe(1);
    late.release();
  });

  it('an upstream that does not accept the connection in time gives 504 with a problem body', async () => {
    const r = await problemOf('/hole/x');
    expect(r.status).toBe(504);
    expect(r.body).toMatchObject({ status: 504, type: 'https://ficus.dev/problems/upstream-timeout' });
    expect(String(r.body.detail)).toContain('connect-timeout');
  });
});

describe('clients that go away', () => {
  it('a client that disconnects mid-upload does not leak an upstream socket', async () => {
    slow.behave((_req, res) => res.end('ok'));
    const before = slow.received.length;
    const socket = connect(Number(new URL(gw.url).port), '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write('POST /upload HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: 50000000\r\n\r\n');
    socket.write(Buffer.alloc(2_000_000, 7));
    // wait until the upstream has the request and bytes are flowing
    for (let i = 0; i < 100 && (slow.received.length === before || slow.received[before]!.bodyBytes === 0); i++) await sleep(20);
    expect(slow.received.length).toBe(before + 1);
    socket.destroy();

    const rec = slow.received[before]!;
    for (let i = 0; i < 100 && !rec.aborted; i++) await sleep(20);
    expect(rec.aborted).toBe(true);
    expect(rec.bodyBytes).toBeLessThan(50_000_000);
    for (let i = 0; i < 100 && (await running('legacy')) !== 0; i++) await sleep(20);
    expect(await running('legacy')).toBe(0);
    // the half-written connection is gone, not parked in the pool
    for (let i = 0; i < 100 && slow.openSockets() > 1; i++) await sleep(20);
    expect(slow.openSockets()).toBeLessThanOrEqual(1);
  });

  it('a client that disconnects mid-download stops the upstream transfer', async () => {
    let upstreamClosed = false;
    slow.behave((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const timer = setInterval(() => res.write(Buffer.alloc(64 * 1024)), 5);
      res.on('close', () => {
        clearInterval(timer);
        upstreamClosed = true;
      });
    });
    const controller = new AbortController();
    const res = await fetch(gw.url + '/download', { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    for (let i = 0; i < 100 && !upstreamClosed; i++) await sleep(20);
    expect(upstreamClosed).toBe(true);
    for (let i = 0; i < 100 && (await running('legacy')) !== 0; i++) await sleep(20);
    expect(await running('legacy')).toBe(0);
  });
});
