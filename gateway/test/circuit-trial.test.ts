/**
 * The half-open trial of a circuit breaker whose client goes away. The breaker lets one trial
 * request through after the cool-down and waits for its verdict; a trial whose client closed
 * mid-upload ended as 499 without telling it anything, so every later request on that upstream
 * got 503 (or silently fell back) for good, while the upstream was healthy again (health
 * checks close a circuit only when the health changes).
 */
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLegacyAndNew, type TwoUpstreams } from './support/gateway-harness.js';
import { answer } from './support/test-upstream.js';

let scene: TwoUpstreams;

const upstream = (url: string) => `    url: ${url}
    timeouts: { connectMs: 1000, responseHeadersMs: 30000, bodyIdleMs: 30000 }
    healthCheck: { enabled: false }
    circuitBreaker: { failureThreshold: 5, openMs: 300 }
`;

const rules = `http:
  - id: records
    match: { path: /api/records/** }
    mode: retired
    target: new-svc
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;

beforeAll(async () => {
  scene = await startLegacyAndNew((u) => ({ 'u.yaml': `upstreams:\n  legacy:\n${upstream(u.legacy)}  new-svc:\n${upstream(u.fresh)}`, 'r.yaml': rules }));
});
afterAll(() => scene?.close());

async function call(method: string, path = '/api/records/7') {
  const res = await fetch(scene.gw.url + path, { method, body: method === 'PUT' ? '{}' : undefined });
  const body = await res.text();
  return { status: res.status, body, detail: res.headers.get('content-type')?.includes('problem') ? (JSON.parse(body) as { detail: string }).detail : undefined };
}

async function circuit(): Promise<number> {
  const text = await (await fetch(scene.gw.url + '/metrics')).text();
  return Number(text.split('\n').find((l) => l.startsWith('ficus_circuit_state{upstream="new-svc"}'))?.split(' ').pop());
}

describe('a half-open trial whose client goes away', () => {
  it('gives the trial back: the next request is the trial, and a healthy upstream closes the circuit', async () => {
    scene.fresh.behave(answer(500, 'broken'));
    for (let i = 0; i < 5; i++) expect((await call('PUT')).status).toBe(500);
    expect(await call('GET')).toMatchObject({ status: 503, detail: 'the circuit of upstream "new-svc" is open' });
    scene.fresh.behave(answer(200, 'new'));
    await sleep(400);
    expect(await circuit()).toBe(1); // half-open

    // the trial: an upload whose client sends part of the body, then leaves
    const since = scene.fresh.received.length;
    const socket = connect(Number(new URL(scene.gw.url).port), '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('PUT /api/records/7 HTTP/1.1\r\nHost: his.example\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n' + '{"note":"'.padEnd(100, 'x'));
    for (let i = 0; i < 100 && !scene.fresh.received.slice(since).some((r) => r.method === 'PUT'); i++) await sleep(20);
    expect(scene.fresh.received.slice(since).map((r) => r.method)).toContain('PUT');

    // while it is in flight, no other request is sent, and the answer says why, truly
    const waiting = await call('GET');
    expect(waiting.status).toBe(503);
    expect(waiting.detail).toMatch(/^the circuit of upstream "new-svc" is half-open: its one trial request is under way/);

    socket.destroy();
    let after = await call('GET');
    for (let i = 0; i < 40 && after.status === 503; i++) {
      await sleep(50);
      after = await call('GET');
    }
    expect(after).toMatchObject({ status: 200, body: 'new' });
    expect(await circuit()).toBe(0);
    for (let i = 0; i < 5; i++) expect(await call('GET')).toMatchObject({ status: 200, body: 'new' });
  });
});
