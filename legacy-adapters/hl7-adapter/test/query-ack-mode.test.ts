/**
 * The query exchange with legacy is original mode whatever the sender asked for its own hop:
 * the adapter waits on its connection for legacy's immediate answer (ADR, RSP… with the data),
 * which is what a receiver sends when MSH-15 and MSH-16 are empty. Passed on as sent, an
 * enhanced-mode query made a real legacy answer with a commit ACK (MSH-15 AL: the sender got CA
 * and never the data, which legacy sends later as a message of its own) or with nothing at once
 * (NE: AE after the wait). Over real MLLP sockets, to an inbound that answers as an
 * enhanced-mode receiver does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hl7Rules, startAdapterUnderTest, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient } from './support/mllp-test-client.js';
import { TestInbound } from './support/test-inbound.js';

let a: AdapterUnderTest;
let inbound: TestInbound;
let client: MllpTestClient;

const query = (controlId: string, msh15: string, msh16: string) =>
  `MSH|^~\\&|WARDAPP|GENHOSP|HIS|GENHOSP|20261206090000||QRY^A19^QRY_A19|${controlId}|P|2.5|||${msh15}|${msh16}|USA\r` +
  `QRD|20261206090000|R|I|${controlId}|||1^RD|8300001|DEM|||\r`;

beforeAll(async () => {
  inbound = new TestInbound();
  inbound.enhanced = true;
  await inbound.start();
  a = await startAdapterUnderTest({ files: hl7Rules(inbound.url, 'legacy') });
  client = await MllpTestClient.open(a.adapter.port);
});
afterAll(async () => {
  client?.close();
  await a?.close();
  await inbound?.stop();
});

describe('queries to legacy in original mode', () => {
  it.each([
    ['AL', 'AL'],
    ['NE', 'AL'],
    ['ER', 'NE'],
  ])('a query sent with MSH-15 %s, MSH-16 %s reaches legacy with both empty and the sender gets its immediate answer', async (msh15, msh16) => {
    const id = `QM-${msh15}-${msh16}`;
    const answer = await client.send(query(id, msh15, msh16));
    expect([answer.get('MSA-1'), answer.get('MSA-2')]).toEqual(['AA', id]);
    const received = inbound.received.find((r) => r.controlId === id);
    expect(received?.ackTypes).toEqual(['', '']);
    // the rest of the query as the sender wrote it
    expect(inbound.payloads.map((p) => p.toString('latin1'))).toContain(query(id, '', ''));
  });

  it('a query with a UTF-8 byte order mark before MSH reaches legacy without the mark, in original mode, MSH-18 naming UTF-8', async () => {
    // the mark hid MSH from the header edit: legacy got the mark and MSH-15 AL, and the sender its CA
    const id = 'QM-BOM';
    const answer = await client.send(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(query(id, 'AL', 'AL'))]));
    expect([answer.get('MSA-1'), answer.get('MSA-2')]).toEqual(['AA', id]);
    expect(inbound.received.find((r) => r.controlId === id)?.ackTypes).toEqual(['', '']);
    // as a delivered message's copy: the mark named the charset, so MSH-18 must now
    expect(inbound.payloads.map((p) => p.toString('latin1'))).toContain(query(id, '', '').replace('\r', '|UNICODE UTF-8\r'));
  });

  it('passes a query that asks for original mode byte for byte', async () => {
    const sent = query('QM-ORIGINAL', '', '');
    const answer = await client.send(sent);
    expect([answer.get('MSA-1'), answer.get('MSA-2')]).toEqual(['AA', 'QM-ORIGINAL']);
    expect(inbound.payloads.map((p) => p.toString('latin1'))).toContain(sent);
  });
});
