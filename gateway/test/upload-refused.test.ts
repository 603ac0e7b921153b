/**
 * Oversized uploads to a new service that refuses them early and closes (a body limit: 413 and
 * `Connection: close`, the connection reset on the unread body). Before, 60-70 % of the clients
 * got 502 upstream-connection-lost instead of the 413, and each such 502 counted against the
 * service's circuit: a few oversized PUTs opened it, and every other client got 503 for
 * `openMs`. Now the 413 is the client's answer, and a connection lost while the request body
 * is still being sent is no strike against the upstream (the client's body provoked it); its
 * 502 says what happened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';
import { startTestUpstream, type TestUpstream } from './support/test-upstream.js';

let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: GatewayUnderTest;

beforeAll(async () => {
  legacy = await startTestUpstream('legacy');
  fresh = await startTestUpstream('new');
  // failureThreshold 3: three strikes in a row would open the circuit; no health checks, whose
  // short timeout a busy test process could miss
  const upstreams = ['legacy', 'new-svc']
    .map((name) => `  ${name}:\n    url: ${name === 'legacy' ? legacy.url : fresh.url}\n    healthCheck: { enabled: false }\n    circuitBreaker: { failureThreshold: 3, openMs: 5000 }\n`)
    .join('');
  const rules = `
http:
  - id: patients-write
    match: { path: /api/** }
    mode: new
    target: new-svc
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;
  gw = await startGatewayUnderTest({ 'u.yaml': `upstreams:\n${upstreams}`, 'r.yaml': rules });
});
afterAll(async () => {
  await gw?.close();
  await legacy?.close();
  await fresh?.close();
});

async function circuitOfNew(): Promise<number> {
  const text = await (await fetch(gw.url + '/metrics')).text();
  return Number(text.split('\n').find((l) => l.startsWith('ficus_circuit_state{upstream="new-svc"}'))?.split(' ').pop());
}

const FIVE_MB = Buffer.alloc(5_000_000, '{');

async function put(path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(gw.url + path, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: FIVE_MB });
  return { status: res.status, text: await res.text() };
}

describe('an upstream that refuses an upload early and resets the connection', () => {
  it("gives the client its 413 every time and keeps the upstream's circuit closed (24 PUTs of 5 MB, 8 at a time)", { timeout: 120_000 }, async () => {
    fresh.behave(
      (_req, res) => {
        res.writeHead(413, { 'content-type': 'application/json', 'content-length': '22', connection: 'close' });
        res.end('{"errorCode":"PAT-413"}'.slice(0, 22));
      },
      { beforeBody: true },
    );
    const statuses: number[] = [];
    for (let round = 0; round < 3; round++) {
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => put(`/api/patients/${round * 8 + i}`)));
      statuses.push(...answers.map((a) => a.status));
    }
    expect(statuses).toEqual(Array.from({ length: 24 }, () => 413));
    expect(await circuitOfNew()).toBe(0);
    fresh.behave((_req, res) => res.end('new'));
    const next = await fetch(gw.url + '/api/patients/100002');
    expect(await next.text()).toBe('new');
  });

  it('without an answer: 502 saying the upstream closed while the body was being sent, and no strike against its circuit', { timeout: 60_000 }, async () => {
    fresh.behave((req) => req.socket.destroy(), { beforeBody: true });
    for (let i = 0; i < 5; i++) {
      const r = await put(`/api/patients/x${i}`);
      expect(r.status).toBe(502);
      const problem = JSON.parse(r.text) as { type: string; title: string; detail: string };
      expect(problem.type).toMatch(/upstream-connection-lost$/);
      expect(problem.detail).toMatch(/closed the connection while the request body was being sent/);
    }
    expect(await circuitOfNew()).toBe(0);
    fresh.behave((_req, res) => res.end('new'));
    expect(await (await fetch(gw.url + '/api/patients/100003')).text()).toBe('new');
  });
});
