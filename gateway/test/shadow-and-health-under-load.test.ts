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
import { until as untilTrue } from '../../test-support/until.js';
import { startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';
import { HeldAnswers } from './support/held-answers.js';
import { rawRequest } from './support/raw-http.js';
import { startTestUpstream, type TestUpstream } from './support/test-upstream.js';

// the new service's slow answers wait for the test, so every "still busy" holds however loaded the machine
const slowHeld = new HeldAnswers();
const shadowHeld = new HeldAnswers();
const checkHeld = new HeldAnswers();
let holdShadows = false;
let holdChecks = false;

let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: GatewayUnderTest;

function newService(req: IncomingMessage, res: ServerResponse): void {
  const url = req.url ?? '';
  // not /healthz: the test upstream answers that one itself, at once
  if (url === '/checkz') return holdChecks ? checkHeld.hold(() => res.end('ok')) : void res.end('ok');
  if (req.headers['x-ficus-shadow']) return holdShadows ? shadowHeld.hold(() => res.end('legacy')) : void res.end('legacy');
  if (url.includes('/slow')) return slowHeld.hold(() => res.end('new slow'));
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
    timeouts: { connectMs: 500, responseHeadersMs: 30000, bodyIdleMs: 30000, queueMs: 10000 }
    healthCheck: { path: /checkz, intervalMs: 600000, timeoutMs: 10000, unhealthyAfter: 1, healthyAfter: 1 }
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
  for (const held of [slowHeld, shadowHeld, checkHeld]) held.release();
  await gw?.close();
  await legacy?.close();
  await fresh?.close();
});

const newSvc = () => gw.gateway.runtime.upstreams.get('new-svc')!;
const skips = (rule: string, reason: string) => gw.gateway.recorder.skips.get(rule)?.get(reason) ?? 0;
const compared = (rule: string) => [...(gw.gateway.recorder.compared.get(rule)?.values() ?? [])].reduce((a, b) => a + b, 0);
const shadowsReceived = (since: number) => fresh.received.slice(since).filter((r) => r.headers['x-ficus-shadow']).length;

/** A wait for a state that stays once reached; the deadline only turns a hang into a failure. */
const until = (what: string, ok: () => boolean) => untilTrue(ok, what, 15_000);

async function timedGet(path: string) {
  const started = Date.now();
  const res = await fetch(gw.url + path, { signal: AbortSignal.timeout(30_000) });
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
    await slowHeld.arrived(2, 'both slow requests at the new service');
    for (let i = 0; i < 3; i++) {
      const r = await timedGet(`/mirror/a${i}`);
      expect(r.status).toBe(200);
      expect(r.text).toBe('legacy');
    }
    await until('three copies skipped as pool-busy', () => skips('mirror', 'pool-busy') === 3);
    expect(slowHeld.held).toBe(2);
    slowHeld.release();
    expect((await Promise.all(slow)).map((r) => r.text)).toEqual(['new slow', 'new slow']);
    // nothing was left queued to be sent once the pool had room again
    await sleep(300);
    expect(shadowsReceived(since)).toBe(0);
    expect(await metric('ficus_shadow_skipped_total{rule="mirror",reason="pool-busy"}')).toBe(3);
    expect(newSvc().gate.inUse).toBe(0);
  });

  it('hold at most their share of the pool, and a real request that needs the connection preempts the copy', async () => {
    holdShadows = true;
    try {
      const since = fresh.received.length;
      const busyBefore = skips('mirror', 'pool-busy');
      // the share of a 2-connection pool is one copy: the second is skipped
      expect((await timedGet('/mirror/b1')).text).toBe('legacy');
      await shadowHeld.arrived(1, 'the first copy at the new service');
      expect((await timedGet('/mirror/b2')).text).toBe('legacy');
      await until('the second copy skipped', () => skips('mirror', 'pool-busy') === busyBefore + 1);
      expect(shadowsReceived(since)).toBe(1);
      // a real request on the other connection, then one that finds every slot taken
      const slow = timedGet('/moved/slow/3');
      await slowHeld.arrived(1, 'the slow request at the new service');
      const r = await timedGet('/moved/fast');
      expect(r.status).toBe(200);
      expect(r.text).toBe('new');
      expect(r.route).not.toContain('fallback');
      // not behind the copy, which is still held: queued behind it, the request would have waited for it
      await until('the copy counted as preempted', () => skips('mirror', 'preempted') === 1);
      expect(shadowHeld.held).toBe(1);
      expect(compared('mirror')).toBe(0);
      slowHeld.release();
      expect((await slow).text).toBe('new slow');
      expect(newSvc().gate.inUse).toBe(0);
      expect(newSvc().gate.shadowsInUse).toBe(0);
    } finally {
      holdShadows = false;
      shadowHeld.release();
    }
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
    const slow = [timedGet('/moved/slow/4'), timedGet('/moved/slow/5')];
    await slowHeld.arrived(2, 'both slow requests at the new service');
    // behind the held requests the check would time out (timeoutMs)
    expect(await newSvc().health.check()).toBe('healthy');
    expect(slowHeld.held).toBe(2);
    expect(newSvc().breaker.current).toBe('closed');
    expect(await metric('ficus_circuit_state{upstream="new-svc"}')).toBe(0);
    slowHeld.release();
    expect((await Promise.all(slow)).map((r) => r.route)).toEqual(['moved; new-svc', 'moved; new-svc']);
  });

  it('a slow check holds no pooled connection: real requests pass at once', async () => {
    holdChecks = true;
    try {
      const slow = timedGet('/moved/slow/6');
      await slowHeld.arrived(1, 'the slow request at the new service');
      const check = newSvc().health.check();
      await checkHeld.arrived(1, 'the check at the new service');
      // behind the held check on a pooled connection, the request would wait for it (and fall back after queueMs)
      const order: string[] = [];
      const request = timedGet('/moved/fast').then((r) => (order.push('request'), r));
      const checked = check.then((h) => (order.push('check'), h));
      const r = await request;
      expect(r.text).toBe('new');
      expect(r.route).toBe('moved; new-svc');
      checkHeld.release();
      expect(await checked).toBe('healthy');
      expect(order).toEqual(['request', 'check']);
      slowHeld.release();
      expect((await slow).text).toBe('new slow');
    } finally {
      holdChecks = false;
      checkHeld.release();
      slowHeld.release();
    }
  });
});
