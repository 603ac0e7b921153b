/**
 * Legacy's answers are read in the charset they say they are in (MSH-18; UTF-8 when it is empty;
 * a UTF-8 byte order mark outweighs it), as the adapter reads the messages it takes: a refusal
 * naming `MÜLLER` reaches the dead letters (`ficus hl7 dead-letters`) as `MÜLLER`. (Until
 * 2026-12-07 every ACK was read as Latin-1, and a UTF-8 refusal read `MÃ\u009cLLER` there.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hl7Error } from '@ficus/hl7-protocol';
import { api, hl7Rules, startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient } from './support/mllp-test-client.js';
import { TestInbound } from './support/test-inbound.js';

let inbound: TestInbound;
let a: AdapterUnderTest;

beforeAll(async () => {
  inbound = new TestInbound();
  // legacy refuses every message, naming the patient as real receivers do (a refusal's text may quote data)
  inbound.answer = () => 'AE';
  inbound.refusal = (m) => hl7Error(204, `no patient ${m.get('PID-5.1')}, ${m.get('PID-5.2')} with MRN ${m.patientId?.id ?? ''}`, { segment: 'PID', sequence: 1, field: 3 });
  await inbound.start();
  a = await startAdapterUnderTest({ files: hl7Rules(inbound.url, 'legacy') });
});
afterAll(async () => {
  await a?.close();
  await inbound?.stop();
});

/** An A08 whose MSH-18 is `charset` (legacy answers in the same charset, and names it in its ACK's MSH-18). */
function a08(controlId: string, mrn: string, charset: string): Buffer {
  const text =
    [
      `MSH|^~\\&|REGSYS|GENHOSP|HIS|GENHOSP|20261208100000||ADT^A08^ADT_A01|${controlId}|P|2.5||||||${charset}`,
      'EVN|A08|20261208100000',
      `PID|1||${mrn}^^^GENHOSP^MR||MÜLLER^ZOË||19800101|F`,
    ].join('\r') + '\r';
  return Buffer.from(text, charset === '8859/1' ? 'latin1' : 'utf8');
}

interface DeadLetter {
  controlId: string;
  answer: string;
}

describe("legacy's answers in their own charset", () => {
  it('a refusal in UTF-8 (MSH-18 UNICODE UTF-8, or empty) or in Latin-1 (8859/1) is kept as legacy wrote it', async () => {
    const client = await MllpTestClient.open(a.adapter.port);
    const sent = { 'CS-UTF8': ['7740001', 'UNICODE UTF-8'], 'CS-EMPTY': ['7740002', ''], 'CS-LATIN1': ['7740003', '8859/1'] } as const;
    for (const [id, [mrn, charset]] of Object.entries(sent)) expect((await client.send(a08(id, mrn, charset))).get('MSA-1'), id).toBe('AA');
    client.close();
    const letters = await until(async () => {
      const dead = await api<{ deadLetters: DeadLetter[] }>(a.apiUrl, 'GET', '/api/hl7/dead-letters');
      return dead.body.deadLetters.length === 3 ? new Map(dead.body.deadLetters.map((d) => [d.controlId, d.answer])) : undefined;
    }, 'three dead letters');
    for (const [id, [mrn]] of Object.entries(sent)) {
      expect(letters.get(id), id).toBe(`AE: HL7 204 at PID^1^3: no patient MÜLLER, ZOË with MRN ${mrn}; Unknown key identifier`);
    }
  });
});
