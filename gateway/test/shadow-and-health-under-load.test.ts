/**
 * Shadow copies and active health checks next to real traffic on a small, saturated pool.
 *
 * Before, both went to the upstream's undici pool without a slot of its connection gate: shadow
 * copies queued inside undici without bound and took connections the new service's real
 * traffic (rules in mode new on the same upstream) was waiting for, and a health check queued
 * behind slow real requests, timed out and opened the circuit of a healthy-but-busy upstream.
 * Now a copy uses only spare capacity (skipped `pool-busy`, preempted by a real request that
 * needs its connection: `preempted`), and health checks have a connection of their own.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';
import { rawRequest } from './support/raw-http.js';
import { startTestUpstream, type TestUpstream } from './support/test-upstream.js';

/** how long the new service holds a `/slow` request */
const SLOW_MS = 2_000;
let shadowHoldMs = 0;
let healthDelayMs = 0;

let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: GatewayUnderTest;

function newService(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '';
  // not /healthz: the test upstream answers that one itself, at once
  if (url === '/checkz') return void setTimeout(() => res.end('ok'), healthDelayMs);
  if (req.headers['x-ficus-shadow']) return void setTimeout(() => res.end('legacy'), shadowHoldMs);
  if (url.includes('/slow')) return void setTimeout(() => res.end('new slow'), SLOW_MS);
  res.end('new');
}

beforeAll(async () => {
  legacy = await startTestUpstream('legacy', (_req, res) => res.end('legacy'));
  fresh = await startTestUpstream('new', newService);
  const upstreams = `
upstreams:
  legacy:
    url: ${legacy.url}
    healthCheck: { enabled: false }
  new-svc:
    url: ${fresh.url}
    pool: { connections: 2 }
    timeouts: { connectMs: 500, responseHeadersMs: 5000, bodyIdleMs: 10000, queueMs: 400 }
    healthCheck: { path: /checkz, intervalMs: 600000, timeoutMs: 1000, unhealthyAfter: 1, healthyAfter: 1 }
    circuitBreaker: { failureThreshold: 1, openMs: 60000 }
`;
  const rules = `
http:
  - id: moved
    match: { path: /moved/** }
    mode: new
    target: new-svc
  - id: mirror
    match: { path: /mirror/** }
    mode: shadow
    target: new-svc
    shadow: { timeoutMs: 8000 }
  - id: noisy
    match: { path: /noisy/** }
    mode: shadow
    target: new-svc
    compare: { learnNoise: true }
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;
  gw = await startGatewayUnderTest({ 'u.yaml': upstreams, 'r.yaml': rules });
});
afterAll(async () => {
  await gw?.close();
  await legacy?.close();
  await fresh?.close();
});

const newSvc = () => gw.gateway.runtime.upstreams.get('new-svc')!;
const skips = (rule: string, reason: string) => gw.gateway.recorder.skips.get(rule)?.get(reason) ?? 0;
const compared = (rule: string) => [...(gw.gateway.recorder.compared.get(rule)?.values() ?? [])].reduce((a, b) => a + b, 0);
const shadowsReceived = (since: number) => fresh.received.slice(since).filter((r) => r.headers['x-ficus-shadow']).length;

async function until(what: string, ok: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`still not: ${what}`);
    await sleep(10);
  }
}

async function timedGet(path: string) {
  const started = Date.now();
  const res = await fetch(gw.url + path, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, text: await res.text(), route: res.headers.get('x-ficus-route'), ms: Date.now() - started };
}

async function metric(line: string): Promise<number> {
  const text = await (await fetch(gw.url + '/metrics')).text();
  const found = text.split('\n').find((l) => l.startsWith(line));
  return found ? Number(found.split(' ').pop()) : 0;
}

describe('shadow copies use only the spare capacity of the pool', () => {
  it('are skipped (pool-busy), never queued, while real requests hold every connection', async () => {
    const since = fresh.received.length;
    const slow = [timedGet('/moved/slow/1'), timedGet('/moved/slow/2')];
    await until('both slow requests at the new service', () => fresh.received.length >= since + 2);
    for (let i = 0; i < 3; i++) {
      const r = await timedGet(`/mirror/a${i}`);
      expect(r.status).toBe(200);
      expect(r.text).toBe('legacy');
    }
    await until('three copies skipped as pool-busy', () => skips('mirror', 'pool-busy') === 3, 1_000);
    expect((await Promise.all(slow)).map((r) => r.text)).toEqual(['new slow', 'new slow']);
    // nothing was left queued to be sent once the pool had room again
    await sleep(300);
    expect(shadowsReceived(since)).toBe(0);
    expect(await metric('ficus_shadow_skipped_total{rule="mirror",reason="pool-busy"}')).toBe(3);
    expect(newSvc().gate.inUse).toBe(0);
  });

  it('hold at most their share of the pool, and a real request that needs the connection preempts the copy', async () => {
    shadowHoldMs = 3_000;
    const since = fresh.received.length;
    const busyBefore = skips('mirror', 'pool-busy');
    // the share of a 2-connection pool is one copy: the second is skipped
    expect((await timedGet('/mirror/b1')).text).toBe('legacy');
    expect((await timedGet('/mirror/b2')).text).toBe('legacy');
    await until('one copy at the new service', () => shadowsReceived(since) === 1);
    expect(skips('mirror', 'pool-busy')).toBe(busyBefore + 1);
    // a real request on the other connection, then one that finds every slot taken
    const slow = timedGet('/moved/slow/3');
    await until('the slow request at the new service', () => fresh.received.length >= since + 2);
    const r = await timedGet('/moved/fast');
    expect(r.status).toBe(200);
    expect(r.text).toBe('new');
    expect(r.route).not.toContain('fallback');
    // not behind the 3 s copy: queued for queueMs (400 ms) it would have fallen back to legacy
    await until('the copy counted as preempted', () => skips('mirror', 'preempted') === 1, 1_000);
    expect(compared('mirror')).toBe(0);
    expect((await slow).text).toBe('new slow');
    expect(newSvc().gate.inUse).toBe(0);
    expect(newSvc().gate.shadowsInUse).toBe(0);
    shadowHoldMs = 0;
  });

  it('a shadowed GET with a body on a noise-learning rule is compared (it used to wait for ever)', async () => {
    const r = await rawRequest(gw.url, 'GET', '/noisy/1', { 'content-type': 'text/plain', 'content-length': '4' }, 'abcd');
    expect(r.status).toBe(200);
    await until('the noisy request compared', () => compared('noisy') === 1);
    expect(gw.gateway.runtime.shadows.inflightOf('noisy')).toBe(0);
  });
});

describe('health checks have a connection of their own', () => {
  // the check at startup has had its verdict (a check asked for while one runs returns at once)
  beforeAll(() => until('the first health verdict', () => newSvc().health.health === 'healthy'));

  it('a check while slow real requests hold every pooled connection passes, and the circuit stays closed', async () => {
    const since = fresh.received.length;
    const slow = [timedGet('/moved/slow/4'), timedGet('/moved/slow/5')];
    await until('both slow requests at the new service', () => fresh.received.length >= since + 2);
    // behind the 2 s requests the check would time out (timeoutMs 1000)
    expect(await newSvc().health.check()).toBe('healthy');
    expect(newSvc().breaker.current).toBe('closed');
    expect(await metric('ficus_circuit_state{upstream="new-svc"}')).toBe(0);
    expect((await Promise.all(slow)).map((r) => r.route)).toEqual(['moved; new-svc', 'moved; new-svc']);
  });

  it('a slow check holds no pooled connection: real requests pass at once', async () => {
    healthDelayMs = 700;
    const since = fresh.received.length;
    try {
      const slow = timedGet('/moved/slow/6');
      await until('the slow request at the new service', () => fresh.received.length >= since + 1);
      const check = newSvc().health.check();
      await until('the check at the new service', () => fresh.received.slice(since).some((r) => r.url === '/checkz'));
      // behind the 700 ms check on a pooled connection, the request would be answered after it
      const order: string[] = [];
      const request = timedGet('/moved/fast').then((r) => (order.push('request'), r));
      const checked = check.then((h) => (order.push('check'), h));
      const r = await request;
      expect(r.text).toBe('new');
      expect(await checked).toBe('healthy');
      expect(order).toEqual(['request', 'check']);
      expect((await slow).text).toBe('new slow');
    } finally {
      healthDelayMs = 0;
    }
  });
});
