import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLegacyAndNew, upstreamsYaml, type GatewayUnderTest, type TwoUpstreams } from './support/gateway-harness.js';
import { answer, type TestUpstream } from './support/test-upstream.js';

let scene: TwoUpstreams;
let legacy: TestUpstream;
let fresh: TestUpstream;
let gw: GatewayUnderTest;

const rules = `
http:
  - id: patients-read
    match: { methods: [GET, POST], path: /api/patients/:mrn }
    mode: new
    target: patient-service
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;

beforeAll(async () => {
  scene = await startLegacyAndNew((u) => ({ 'a.yaml': upstreamsYaml({ legacy: u.legacy, 'patient-service': u.fresh }), 'b.yaml': rules }));
  ({ legacy, fresh, gw } = scene);
});
afterAll(() => scene?.close());

async function call(method: string, path = '/api/patients/100001') {
  const res = await fetch(gw.url + path, { method, body: method === 'POST' ? '{"a":1}' : undefined, headers: method === 'POST' ? { 'content-type': 'application/json' } : {} });
  return { status: res.status, body: await res.text(), route: res.headers.get('x-ficus-route'), type: res.headers.get('content-type'), stale: res.headers.get('x-ficus-stale') };
}

async function metric(name: string, labels: string): Promise<number | undefined> {
  const text = await (await fetch(gw.url + '/metrics')).text();
  const lines = text.split('\n').filter((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return lines.length ? lines.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0) : undefined;
}

async function until(check: () => Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error('condition not reached in time');
}

// An extracted service whose CDC feed from the legacy lags answers safe reads 503 with
// `x-ficus-stale: feed-lag` (service-kit stale-reads.ts). The gateway answers those from the
// legacy (fallback `stale-feed`) and does not count them against the service's circuit: the
// service is up, only behind. A write is not replayed: its 503 is relayed.
const staleAnswer = answer(503, '{"title":"Data not fresh"}', { 'content-type': 'application/problem+json', 'x-ficus-stale': 'feed-lag' });

describe('a service that says its feed is stale', () => {
  it('has its reads answered by legacy, counted as stale-feed fallbacks, and its circuit stays closed', async () => {
    expect(await call('GET')).toMatchObject({ status: 200, body: 'new', route: 'patients-read; patient-service' });
    fresh.behave(staleAnswer);
    const reads = () => legacy.received.filter((r) => r.url === '/api/patients/100001').length;
    const legacyBefore = reads();
    // well past the breaker's failureThreshold (3)
    for (let i = 0; i < 10; i++) expect(await call('GET')).toMatchObject({ status: 200, body: 'legacy', route: 'patients-read; legacy (fallback)' });
    expect(reads() - legacyBefore).toBe(10);
    expect(await metric('ficus_fallbacks_total', 'reason="stale-feed"')).toBe(10);
    expect(await metric('ficus_circuit_state', 'upstream="patient-service"')).toBe(0);
    const ready = (await (await fetch(`${gw.url}/readyz`)).json()) as { upstreams: { name: string; circuit: string }[] };
    expect(ready.upstreams.find((u) => u.name === 'patient-service')?.circuit).toBe('closed');
  });

  it('relays its 503 for a write (never replayed to legacy), without a strike either', async () => {
    const legacyPosts = legacy.received.filter((r) => r.method === 'POST').length;
    for (let i = 0; i < 5; i++) expect(await call('POST')).toMatchObject({ status: 503, stale: 'feed-lag', route: 'patients-read; patient-service' });
    expect(legacy.received.filter((r) => r.method === 'POST').length).toBe(legacyPosts);
    expect(await metric('ficus_circuit_state', 'upstream="patient-service"')).toBe(0);
  });

  it('is asked again as soon as it is fresh', async () => {
    fresh.behave(answer(200, 'new'));
    expect(await call('GET')).toMatchObject({ status: 200, body: 'new', route: 'patients-read; patient-service' });
  });
});

describe('mode new with fallback to legacy', () => {
  it('answers from the new service while it is up', async () => {
    expect(await call('GET')).toMatchObject({ status: 200, body: 'new', route: 'patients-read; patient-service' });
  });

  it('answers a GET from legacy when the new service answers 5xx, and passes a POST 5xx through', async () => {
    fresh.behave(answer(503, 'down for maintenance'));
    expect(await call('GET')).toMatchObject({ status: 200, body: 'legacy', route: 'patients-read; legacy (fallback)' });
    const legacyPostsBefore = legacy.received.filter((r) => r.method === 'POST').length;
    expect(await call('POST')).toMatchObject({ status: 503, body: 'down for maintenance', route: 'patients-read; patient-service' });
    expect(legacy.received.filter((r) => r.method === 'POST').length).toBe(legacyPostsBefore);
    fresh.behave(answer(200, 'new'));
    await until(async () => (await call('GET')).body === 'new');
  });

  it('with the new service stopped: GETs are answered by legacy, a POST gets 502 and is not replayed; the circuit opens, then closes when it returns', async () => {
    await fresh.stop();
    const legacyPostsBefore = legacy.received.filter((r) => r.method === 'POST').length;
    const newBefore = fresh.received.length;

    for (let i = 0; i < 10; i++) {
      expect(await call('GET')).toMatchObject({ status: 200, body: 'legacy', route: 'patients-read; legacy (fallback)' });
    }
    const post = await call('POST');
    expect([502, 503]).toContain(post.status);
    expect(post.type).toBe('application/problem+json');
    expect(legacy.received.filter((r) => r.method === 'POST').length).toBe(legacyPostsBefore);
    expect(fresh.received.length).toBe(newBefore);

    await until(async () => (await metric('ficus_circuit_state', 'upstream="patient-service"')) === 2);
    const upstreamState = async () => {
      const ready = (await (await fetch(gw.url + '/readyz')).json()) as { upstreams: { name: string; circuit: string; health: string }[] };
      return ready.upstreams.find((u) => u.name === 'patient-service');
    };
    await until(async () => (await upstreamState())?.health === 'unhealthy');
    expect(await upstreamState()).toMatchObject({ circuit: 'open', health: 'unhealthy' });
    expect(await metric('ficus_fallbacks_total', 'rule="patients-read"')).toBeGreaterThanOrEqual(10);

    await fresh.restart();
    await until(async () => (await metric('ficus_circuit_state', 'upstream="patient-service"')) === 0);
    expect(await call('GET')).toMatchObject({ status: 200, body: 'new', route: 'patients-read; patient-service' });
  });

  it('fails a 5xx of legacy itself through unchanged (legacy has no fallback)', async () => {
    legacy.behave(answer(500, 'legacy broke'));
    expect(await call('GET', '/other')).toMatchObject({ status: 500, body: 'legacy broke', route: 'legacy-default; legacy' });
    legacy.behave(answer(200, 'legacy'));
  });
});
