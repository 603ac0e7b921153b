/**
 * Waiting for an upstream connection has a deadline, and slow uploaders do not starve everyone.
 * Before, a request that found every pooled connection busy waited in undici's queue for ever
 * (`responseHeadersMs` does not run there), and 128 clients trickling a small upload one byte a
 * second held all 128 connections to legacy: every GET through the gateway hung.
 *
 * - timeouts.queueMs: past it, 503 upstream-busy with Retry-After, or legacy for a safe request
 *   of a rule in mode new/canary (fallback reason upstream-busy); never a strike on the circuit;
 * - small bodies are read before a connection is taken (FICUS_REQUEST_BUFFER_BYTES);
 * - streamed (large) uploads hold at most half of an upstream's connections (bulkhead).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../../test-support/until.js';
import { startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';
import { HeldAnswers } from './support/held-answers.js';
import { startTestUpstream, type TestUpstream } from './support/test-upstream.js';

let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: GatewayUnderTest;
// `/slow` requests are answered when the test says so: every connection busy for as long as it needs
const legacyHeld = new HeldAnswers();
const freshHeld = new HeldAnswers();

const slowly = (name: string, held: HeldAnswers) => (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
  if (req.url?.includes('/slow')) return held.hold(() => res.end(`${name} slow`));
  res.end(`${name} ${body.length}`);
};

beforeAll(async () => {
  legacy = await startTestUpstream('legacy', slowly('legacy', legacyHeld));
  fresh = await startTestUpstream('new', slowly('new', freshHeld));
  const upstreams = `
upstreams:
  legacy:
    url: ${legacy.url}
    pool: { connections: 2 }
    timeouts: { connectMs: 500, responseHeadersMs: 5000, bodyIdleMs: 10000, queueMs: 400 }
    healthCheck: { enabled: false }
    circuitBreaker: { failureThreshold: 1, openMs: 60000 }
  new-svc:
    url: ${fresh.url}
    pool: { connections: 1 }
    timeouts: { connectMs: 500, responseHeadersMs: 5000, bodyIdleMs: 10000, queueMs: 300 }
    healthCheck: { enabled: false }
    circuitBreaker: { failureThreshold: 1, openMs: 60000 }
`;
  const rules = `
http:
  - id: moved
    match: { path: /moved/** }
    mode: new
    target: new-svc
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;
  gw = await startGatewayUnderTest({ 'u.yaml': upstreams, 'r.yaml': rules });
});
afterAll(async () => {
  legacyHeld.release();
  freshHeld.release();
  await gw?.close();
  await legacy?.close();
  await fresh?.close();
});

async function metric(prefix: string): Promise<number> {
  const text = await (await fetch(gw.url + '/metrics')).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(prefix))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

/** An upload that declares `declared` bytes and sends one every `everyMs` until stopped. */
function trickle(path: string, declared: number, everyMs: number) {
  const socket: Socket = connect(Number(new URL(gw.url).port), '127.0.0.1');
  socket.on('error', () => undefined);
  let answer = '';
  socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
  socket.write(`POST ${path} HTTP/1.1\r\nHost: h\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`);
  let sent = 0;
  const timer = setInterval(() => {
    if (sent < declared - 1) {
      socket.write('a');
      sent++;
    }
  }, everyMs);
  return {
    answer: () => answer,
    /** the whole answer, once its head and Content-Length bytes of body are in */
    async settled(): Promise<string> {
      await until(() => whole(answer), `an answer to ${path}`, 15_000);
      return answer;
    },
    /** sends the rest at once */
    finish() {
      clearInterval(timer);
      socket.write(Buffer.alloc(declared - sent, 'a'));
    },
    close() {
      clearInterval(timer);
      socket.destroy();
    },
  };
}

function whole(answer: string): boolean {
  const split = answer.indexOf('\r\n\r\n');
  const length = /\r\ncontent-length: *(\d+)/i.exec(answer.slice(0, split))?.[1];
  return split >= 0 && length !== undefined && answer.length - split - 4 >= Number(length);
}

async function timedGet(path: string) {
  const started = Date.now();
  // a guard against a hang, not a bound the test asserts
  const res = await fetch(gw.url + path, { signal: AbortSignal.timeout(15_000) });
  return { status: res.status, text: await res.text(), headers: res.headers, ms: Date.now() - started };
}

const gate = (upstream: string) => gw.gateway.runtime.upstreams.get(upstream)!.gate;
const inflight = () => metric('ficus_http_inflight_requests');

describe('a deadline for a free connection', () => {
  it('answers 503 upstream-busy with Retry-After when every connection stays busy past queueMs, and leaves the circuit closed', async () => {
    const timeoutsBefore = await metric('ficus_upstream_queue_timeouts_total{upstream="legacy"}');
    const slow = [fetch(gw.url + '/slow/1'), fetch(gw.url + '/slow/2')];
    // both connections stay busy until the test releases them, however late the next request comes
    await legacyHeld.arrived(2, 'both slow requests at legacy');
    const r = await timedGet('/waits');
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(r.headers.get('content-type')).toBe('application/problem+json');
    const problem = JSON.parse(r.text) as { type: string; detail: string };
    expect(problem.type).toMatch(/upstream-busy$/);
    expect(problem.detail).toBe('every connection to upstream "legacy" stayed busy for 400 ms (timeouts.queueMs)');
    // it waited its queueMs (a lower bound: load only makes the wait longer)...
    expect(r.ms).toBeGreaterThanOrEqual(350);
    // ...and not for a connection to come free: both answers are still held
    expect(legacyHeld.held).toBe(2);
    legacyHeld.release();
    expect((await Promise.all(slow)).map((x) => x.status)).toEqual([200, 200]);
    expect(await metric('ficus_upstream_queue_timeouts_total{upstream="legacy"}')).toBe(timeoutsBefore + 1);
    // a full pool is load, not a broken upstream (the threshold here is one failure)
    expect(await metric('ficus_circuit_state{upstream="legacy"}')).toBe(0);
    expect((await timedGet('/after')).text).toBe('legacy 0');
  });

  it('a safe request to a busy new service falls back to legacy (reason upstream-busy)', async () => {
    const before = await metric('ficus_fallbacks_total{rule="moved",reason="upstream-busy"}');
    const holding = fetch(gw.url + '/moved/slow');
    await freshHeld.arrived(1, 'the slow request at the new service');
    const r = await timedGet('/moved/1');
    expect(r.status).toBe(200);
    expect(r.text).toBe('legacy 0');
    expect(r.headers.get('x-ficus-route')).toBe('moved; legacy (fallback)');
    expect(freshHeld.held).toBe(1);
    freshHeld.release();
    expect((await holding).status).toBe(200);
    expect(await metric('ficus_fallbacks_total{rule="moved",reason="upstream-busy"}')).toBe(before + 1);
    expect(await metric('ficus_circuit_state{upstream="new-svc"}')).toBe(0);
  });
});

describe('slow uploaders', () => {
  it('of small bodies hold no upstream connection while they send: other requests pass at once', async () => {
    const base = await inflight();
    const uploads = [1, 2, 3, 4].map((i) => trickle(`/upload/${i}`, 1_000, 100));
    try {
      // the gateway has all four, each still sending its body (they send until finish())...
      await until(async () => (await inflight()) >= base + 4, 'the four uploads at the gateway', 15_000);
      // ...and none of them holds a connection to legacy
      expect(gate('legacy').inUse).toBe(0);
      for (let i = 0; i < 3; i++) {
        // queued behind uploads holding both connections, each would be 503 after queueMs
        const r = await timedGet(`/meanwhile/${i}`);
        expect(r.status).toBe(200);
        expect(r.text).toBe('legacy 0');
      }
      expect(legacy.received.some((x) => x.url.startsWith('/upload/'))).toBe(false);
      for (const u of uploads) u.finish();
      for (const u of uploads) expect(await u.settled()).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*legacy 1000$/);
    } finally {
      for (const u of uploads) u.close();
    }
  });

  it('of large (streamed) bodies hold at most half of the connections: the rest wait under queueMs, others pass', async () => {
    const timeoutsBefore = await metric('ficus_upstream_queue_timeouts_total{upstream="legacy"}');
    const base = await inflight();
    const first = trickle('/large/1', 900_000, 100);
    let second: ReturnType<typeof trickle> | undefined;
    try {
      // the first streams to legacy on one connection, for as long as the test lets it
      await until(() => legacy.received.some((x) => x.url === '/large/1'), 'the first upload at legacy', 15_000);
      second = trickle('/large/2', 900_000, 100);
      // the second is at the gateway: waiting for a connection, or already refused after queueMs
      const s = second;
      await until(async () => s.answer() !== '' || (await inflight()) >= base + 2, 'the second upload at the gateway', 15_000);
      // the bulkhead keeps it from the last free connection...
      const r = await timedGet('/meanwhile/large');
      expect(r.status).toBe(200);
      expect(r.text).toBe('legacy 0');
      // ...where it waits no longer than queueMs, while the first still sends
      expect(await second.settled()).toMatch(/^HTTP\/1\.1 503 Service Unavailable[\s\S]*upstream-busy/);
      expect(await metric('ficus_upstream_queue_timeouts_total{upstream="legacy"}')).toBe(timeoutsBefore + 1);
      expect(legacy.received.some((x) => x.url === '/large/2')).toBe(false);
      first.finish();
      expect(await first.settled()).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*legacy 900000$/);
    } finally {
      first.close();
      second?.close();
    }
  });
});

describe('request bodies read before a connection is taken', () => {
  it('a chunked body within the limit arrives whole with its length; one past it streams byte for byte', async () => {
    const options = gw.gateway.runtime.options;
    const saved = options.requestBufferBytes;
    options.requestBufferBytes = 4_096;
    try {
      for (const size of [3_000, 50_000]) {
        const body = Buffer.alloc(size, 'b');
        const since = legacy.received.length;
        const res = await fetch(`${gw.url}/chunked/${size}`, {
          method: 'POST',
          body: new ReadableStream({
            start(c) {
              for (let i = 0; i < size; i += 1_000) c.enqueue(body.subarray(i, i + 1_000));
              c.close();
            },
          }),
          duplex: 'half',
        } as RequestInit);
        expect(await res.text()).toBe(`legacy ${size}`);
        const got = legacy.received.slice(since).find((x) => x.url === `/chunked/${size}`)!;
        expect(got.bodyBytes).toBe(size);
        if (size < 4_096) expect(got.headers['content-length']).toBe(String(size));
        else expect(got.headers['transfer-encoding']).toBe('chunked');
      }
    } finally {
      options.requestBufferBytes = saved;
    }
  });
});
