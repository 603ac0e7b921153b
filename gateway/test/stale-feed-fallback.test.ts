/**
 * An extracted service whose CDC feed from the legacy lags answers safe reads 503 with
 * `x-ficus-stale: feed-lag` (service-kit stale-reads.ts). The gateway answers those from the
 * legacy (fallback `stale-feed`) and does not count them against the service's circuit: the
 * service is up, only behind. A write is not replayed: its 503 is relayed.
 */
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

async function call(method: string) {
  const res = await fetch(`${gw.url}/api/patients/100001`, { method, body: method === 'POST' ? '{"a":1}' : undefined, headers: method === 'POST' ? { 'content-type': 'application/json' } : {} });
  return { status: res.status, body: await res.text(), route: res.headers.get('x-ficus-route'), stale: res.headers.get('x-ficus-stale') };
}

async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(labels))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

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
