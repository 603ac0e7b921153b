/**
 * HL7 parity lookups to a new service behind the hospital's own CA (an https:// upstream whose
 * rule names `tls.caFile`): the lookups used Node's global fetch, which knows only the public CAs,
 * so every read of the service failed its TLS check and every message counted as a mismatch
 * (`status`: unreachable), holding the flip gate shut for a service that answered alike. Real
 * HTTPS with certificates made by openssl at test time.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestPki, type TestPki } from '../../../test-support/test-pki.js';
import { startAdapterUnderTest, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient, syntheticMessage } from './support/mllp-test-client.js';
import { TestInbound } from './support/test-inbound.js';

let pki: TestPki;
let a: AdapterUnderTest;
let inbound: TestInbound;
let legacyApi: Server;
let newApi: Server;
let newReads = 0;

function answer(req: IncomingMessage, res: ServerResponse): void {
  const m = /^\/api\/patients\/([^/?]+)$/.exec(req.url ?? '');
  if (!m) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ mrn: decodeURIComponent(m[1]!), name: 'TESTPATIENT^SYNTH' }));
}

const listen = (server: Server) => new Promise<Server>((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
const port = (s: Server) => (s.address() as AddressInfo).port;

beforeAll(async () => {
  pki = makeTestPki();
  inbound = new TestInbound();
  await inbound.start();
  legacyApi = await listen(createHttpServer(answer));
  newApi = await listen(
    createHttpsServer({ cert: pki.serverCert, key: pki.serverKey }, (req, res) => {
      newReads++;
      answer(req, res);
    }),
  );
  a = await startAdapterUnderTest({
    files: {
      '00-upstreams.yaml': `upstreams:
  legacy: { url: "http://127.0.0.1:${port(legacyApi)}" }
  legacy-hl7: { url: "mllp://127.0.0.1:${inbound.port}" }
  patient-service: { url: "https://127.0.0.1:${port(newApi)}", tls: { caFile: "${pki.caFile}" } }
`,
      '10-http.yaml': 'http:\n  - id: legacy-default\n    match: { path: /** }\n    mode: legacy\n',
      '20-hl7.yaml': `hl7:
  - id: adt
    match: { messageTypes: [ADT] }
    mode: dual
    target: patient-service
    parity:
      lookups: [{ legacy: legacy, target: patient-service, path: "/api/patients/{MRN}" }]
      delayMs: 20
      attempts: 1
      minCompared: 3
  - id: hl7-default
    match: {}
    mode: legacy
`,
    },
  });
});
afterAll(async () => {
  await a?.close();
  await inbound?.stop();
  legacyApi?.close();
  newApi?.close();
  pki?.remove();
});

describe('HL7 parity lookups to a service behind the hospital CA', () => {
  it('read the service over TLS with the rule\'s CA, and count its equal answers as matches', async () => {
    const client = await MllpTestClient.open(a.adapter.port);
    for (let i = 1; i <= 3; i++) expect((await client.send(syntheticMessage({ controlId: `TLSPAR-${i}`, mrn: `T${i}`, trigger: 'A08' }))).get('MSA-1')).toBe('AA');
    client.close();
    const counts = () => Object.fromEntries(a.adapter.parity.compared.get('adt') ?? []);
    for (let i = 0; i < 1_500 && Object.values(counts()).reduce((x, y) => x + y, 0) < 3; i++) await new Promise((r) => setTimeout(r, 20));
    expect(counts()).toEqual({ match: 3 });
    expect(newReads).toBe(3);
  });
});
