/**
 * An mllps:// legacy inbound that wants a client certificate (mutual TLS), signed by the
 * hospital's own CA: without the certificate in the rules the delivery fails as any
 * connection failure does (pending, retried, the reason in lastError); with it, after a rule
 * reload, the same message is delivered.
 */
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAck, decodeMessage, encodeFrame, MllpDecoder } from '@ficus/hl7-protocol';
import { makeTestPki, type TestPki } from '../../../test-support/test-pki.js';
import { api, hl7Rules, startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient } from './support/mllp-test-client.js';

let pki: TestPki;
let inbound: Server;
let port: number;
let a: AdapterUnderTest;
/** control ids received, with the client certificate's CN */
const received: { controlId: string; peer: string }[] = [];

const upstreams = (tls: string) => `upstreams:
  legacy: { url: "http://127.0.0.1:9" }
  legacy-hl7:
    url: mllps://localhost:${port}
    tls: { ${tls} }
  patient-service: { url: "http://127.0.0.1:9" }
  results-service: { url: "http://127.0.0.1:9" }
`;

beforeAll(async () => {
  pki = makeTestPki();
  inbound = createServer({ cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requestCert: true, rejectUnauthorized: true }, (socket: TLSSocket) => {
    socket.on('error', () => undefined);
    const decoder = new MllpDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const e of decoder.push(chunk)) {
        if (e.type !== 'frame') continue;
        const d = decodeMessage(e.payload);
        if (!d.ok) continue;
        received.push({ controlId: d.message.header.controlId, peer: String(socket.getPeerCertificate().subject?.CN) });
        socket.write(encodeFrame(buildAck(d.message, 'AA').bytes));
      }
    });
  });
  inbound.on('tlsClientError', () => undefined);
  port = await new Promise<number>((resolve) => inbound.listen(0, '127.0.0.1', () => resolve((inbound.address() as AddressInfo).port)));
  a = await startAdapterUnderTest({ files: { ...hl7Rules('mllp://127.0.0.1:9', 'legacy'), '00-upstreams.yaml': upstreams(`caFile: ${pki.caFile}`) }, env: { FICUS_RULES_POLL_MS: '200' } });
});
afterAll(async () => {
  await a?.close();
  await new Promise((r) => inbound?.close(r));
  pki?.remove();
});

const MESSAGE = ['MSH|^~\\&|REGSYS|GENHOSP|HIS|GENHOSP|20240701083000||ADT^A08^ADT_A01|TLS-0001|P|2.5', 'EVN|A08|20240701083000', 'PID|1||8300001^^^GENHOSP^MR||TLSTEST^PATIENT||19800101|M'].join('\r') + '\r';

interface Listed {
  controlId: string;
  deliveries: { target: string; status: string; attempts: number; lastError: string | null }[];
}

describe('delivery to an mllps:// legacy inbound that wants a client certificate', () => {
  it('retries as for any connection failure without one, naming the TLS alert; delivers once the rules give one', async () => {
    const client = await MllpTestClient.open(a.adapter.port);
    expect((await client.send(MESSAGE)).get('MSA-1')).toBe('AA');
    client.close();

    const pending = await until(async () => {
      const r = await api<{ messages: Listed[] }>(a.apiUrl, 'GET', '/api/hl7/messages?delivery=pending&limit=10');
      const d = r.body.messages.find((m) => m.controlId === 'TLS-0001')?.deliveries[0];
      return d && d.attempts > 1 ? d : undefined;
    }, 'the delivery retried');
    expect(pending).toMatchObject({ target: 'legacy:legacy-hl7', status: 'pending' });
    expect(pending.lastError).toMatch(/^the legacy inbound is unreachable: .*(certificate required|handshake failure)/);
    expect(received).toEqual([]);

    // the certificate is added: the rule reload reads it, the lane connects again with it
    writeFileSync(path.join(a.rulesDir, '00-upstreams.yaml'), upstreams(`caFile: ${pki.caFile}, certFile: ${pki.clientCertFile}, keyFile: ${pki.clientKeyFile}`));
    await until(() => (received.length > 0 ? true : undefined), 'delivered over mutual TLS', 20_000);
    expect(received).toEqual([{ controlId: 'TLS-0001', peer: 'ficus-gateway' }]);
    const dead = await api<{ deadLetters: unknown[] }>(a.apiUrl, 'GET', '/api/hl7/dead-letters');
    expect(dead.body.deadLetters).toEqual([]);
  });
});
