/**
 * HL7 parity in mode dual: after a message reached the legacy inbound and the new service's
 * queue, the same patient is read from a legacy API and a new-service API (two real HTTP
 * servers answering like the legacy HIS, with crafted differences) and counted, under the HL7
 * rule's id, in the parity store the gateway reads.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { ParityStore } from '@ficus/contracts';
import { startAdapterUnderTest, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient, syntheticMessage } from './support/mllp-test-client.js';
import { TestInbound } from './support/test-inbound.js';
import { resolvePath } from '../src/parity/hl7-parity.js';

let a: AdapterUnderTest;
let inbound: TestInbound;
let legacyApi: Server;
let newApi: Server;
const reads = new Map<string, number>();

function api(answer: (mrn: string, read: number) => { status: number; body?: unknown }): Promise<Server> {
  const server = createServer((req, res) => {
    const m = /^\/api\/patients\/([^/?]+)$/.exec(req.url ?? '');
    if (!m) return res.writeHead(404).end();
    const mrn = decodeURIComponent(m[1]!);
    const key = `${server === legacyApi ? 'legacy' : 'new'}:${mrn}`;
    reads.set(key, (reads.get(key) ?? 0) + 1);
    const a = answer(mrn, reads.get(key)!);
    res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body === undefined ? '' : JSON.stringify(a.body));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const url = (s: Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
const patient = (mrn: string) => ({ mrn, name: 'TESTPATIENT^SYNTH', birthDate: '1970-01-01' });

beforeAll(async () => {
  inbound = new TestInbound();
  await inbound.start();
  legacyApi = await api((mrn) => ({ status: 200, body: patient(mrn) }));
  newApi = await api((mrn, read) => {
    const n = Number(mrn.slice(1));
    if (n === 3 && read === 1) return { status: 404 }; // still catching up on the first read
    if (n % 5 === 0) return { status: 200, body: { ...patient(mrn), name: 'TESTPATIENT^OTHER' } };
    return { status: 200, body: patient(mrn) };
  });
  const files = {
    '00-upstreams.yaml': `upstreams:
  legacy: { url: "${url(legacyApi)}" }
  legacy-hl7: { url: "mllp://127.0.0.1:${inbound.port}" }
  patient-service: { url: "${url(newApi)}" }
`,
    '10-http.yaml': 'http:\n  - id: legacy-default\n    match: { path: /** }\n    mode: legacy\n',
    '20-hl7.yaml': `hl7:
  - id: adt
    match: { messageTypes: [ADT] }
    mode: dual
    target: patient-service
    parity:
      lookups: [{ legacy: legacy, target: patient-service, path: "/api/patients/{MRN}" }]
      delayMs: 50
      attempts: 3
      minCompared: 5
    compare: { sampleRate: 1 }
  - id: hl7-default
    match: {}
    mode: legacy
`,
  };
  a = await startAdapterUnderTest({ files });
});
afterAll(async () => {
  await a?.close();
  await inbound?.stop();
  legacyApi?.close();
  newApi?.close();
});

describe('HL7 parity in mode dual', () => {
  it('resolves field references into the lookup path', () => {
    const get = (f: string) => ({ 'PID-3.1': 'M 1/2', 'PV1-19': '', MRN: '100001' })[f] ?? '';
    expect(resolvePath('/api/patients/{PID-3.1}?x=1', get)).toBe('/api/patients/M%201%2F2?x=1');
    expect(resolvePath('/api/results?mrn={MRN}', get)).toBe('/api/results?mrn=100001');
    expect(resolvePath('/api/visits/{PV1-19}', get)).toBeUndefined();
  });

  it('compares what both sides hold after each message, and counts it under the rule', async () => {
    const client = await MllpTestClient.open(a.adapter.port);
    for (let i = 1; i <= 10; i++) {
      const ack = await client.send(syntheticMessage({ controlId: `PAR-${i}`, mrn: `M${i}`, trigger: 'A08' }));
      expect(ack.get('MSA-1')).toBe('AA');
    }
    client.close();
    const compared = () => [...(a.adapter.parity.compared.get('adt')?.values() ?? [])].reduce((x, y) => x + y, 0);
    for (let i = 0; i < 1_500 && compared() < 10; i++) await new Promise((r) => setTimeout(r, 20));
    expect(compared()).toBe(10);
    await a.adapter.parity.flush();

    const pool = new pg.Pool({ connectionString: a.ruleDb.url });
    try {
      const [f] = await new ParityStore(pool).figures(60, '1h', ['adt']);
      // M5 and M10 differ in name; M3 was missing at first and matched once the new service caught up
      expect(f).toMatchObject({ rule: 'adt', compared: 10, mismatches: 2, parity: 0.8, topFields: [{ field: '/name', count: 2 }] });
      const samples = await new ParityStore(pool).samples('adt', 10);
      expect(samples.length).toBeGreaterThan(0);
      expect(JSON.stringify(samples)).not.toContain('OTHER');
    } finally {
      await pool.end();
    }
    expect(reads.get('new:M3')).toBe(2);
    expect(reads.get('new:M1')).toBe(1);
    // the legacy inbound got every message too
    expect(inbound.received.filter((r) => r.controlId.startsWith('PAR-'))).toHaveLength(10);
  });
});
