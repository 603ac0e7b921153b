/**
 * Some interface engines build MSH-10 from an MRN or a visit number, and the logs carry no PHI:
 * the adapter logs control ids as `sha256:`/`hmac:` and 12 hex digits (a generated-shaped id, a
 * UUID, as it is), the way the gateway logs client request ids; HL7_LOG_CONTROL_IDS=plain logs
 * them as they are. Before, every line naming a control id (intake, resends, refusals, an ACK
 * sent to the listener, legacy's refusals) carried it verbatim. An operator still finds the
 * message from a log line: the API's control id filter takes the logged form.
 */
import { createHash, createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '@ficus/contracts';
import { api, hl7Rules, startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient, syntheticMessage } from './support/mllp-test-client.js';
import { TestInbound } from './support/test-inbound.js';

const MRN = '8400123';
const sha = (id: string) => 'sha256:' + createHash('sha256').update(id).digest('hex').slice(0, 12);
const hmac = (id: string, key: string) => 'hmac:' + createHmac('sha256', key).update(id).digest('hex').slice(0, 12);

/** A real pino logger whose lines the test reads. */
function capturedLog(): { log: Logger; text: () => string; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(chunk.toString('utf8'));
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), text: () => out.join(''), lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

interface Scene {
  a: AdapterUnderTest;
  inbound: TestInbound;
  logs: ReturnType<typeof capturedLog>;
}

async function startScene(env: Record<string, string> = {}): Promise<Scene> {
  const inbound = new TestInbound();
  await inbound.start();
  // legacy refuses the one message named so: a dead letter (no refusal is temporary here)
  inbound.answer = (m) => (m.header.controlId.endsWith('-REFUSE') ? 'AR' : 'AA');
  const logs = capturedLog();
  const a = await startAdapterUnderTest({ files: hl7Rules(inbound.url, 'legacy'), env: { HL7_LEGACY_RETRY_ON: '', ...env }, log: logs.log });
  return { a, inbound, logs };
}

/** Control ids built from the MRN, each through a path of the adapter that logs it. */
async function sendThroughEveryPath(s: Scene, tag: string): Promise<Record<string, string>> {
  const ids = {
    stored: `MRN${MRN}-${tag}-0001`,
    refusedByLegacy: `MRN${MRN}-${tag}-REFUSE`,
    refused: `MRN${MRN}-${tag}-0009`,
    ack: `MRN${MRN}-${tag}-ACK`,
  };
  const client = await MllpTestClient.open(s.a.adapter.port);
  const first = syntheticMessage({ controlId: ids.stored, mrn: MRN });
  expect((await client.send(first)).get('MSA-1')).toBe('AA');
  // the same message again: a resend, logged
  expect((await client.send(first)).get('MSA-1')).toBe('AA');
  // other content under the same control id: refused (205), logged
  expect((await client.send(syntheticMessage({ controlId: ids.stored, mrn: MRN, seq: 2 }))).get('MSA-1')).toBe('AR');
  expect((await client.send(syntheticMessage({ controlId: ids.refusedByLegacy, mrn: MRN }))).get('MSA-1')).toBe('AA');
  // no message type: refused, logged
  expect((await client.send(`MSH|^~\\&|REGSYS|GENHOSP|HIS|GENHOSP|20240701083000||^A08|${ids.refused}|P|2.5\rPID|1||${MRN}^^^GENHOSP^MR\r`)).get('MSA-1')).toBe('AR');
  // an ACK sent to the listener: not answered, logged with the id it names
  client.write(`\x0bMSH|^~\\&|REGSYS|GENHOSP|HIS|GENHOSP|20240701083000||ACK^A08^ACK|${ids.ack}|P|2.5\rMSA|AA|${ids.stored}\r\x1c\r`);
  await until(() => (s.logs.text().includes('an ACK came in') ? true : undefined), 'the ACK logged');
  await until(() => (s.logs.text().includes('legacy refused an HL7 message') ? true : undefined), "legacy's refusal logged");
  client.close();
  return ids;
}

describe('control ids in the logs, by default', () => {
  let s: Scene;
  let ids: Record<string, string>;
  beforeAll(async () => {
    s = await startScene();
    ids = await sendThroughEveryPath(s, 'D');
  });
  afterAll(async () => {
    await s?.a.close();
    await s?.inbound.stop();
  });

  it('never shows a control id built from an MRN, nor the MRN', () => {
    const text = s.logs.text();
    expect(text).not.toContain(MRN);
    for (const id of Object.values(ids)) expect(text).not.toContain(id);
  });

  it('shows each as sha256: of it, on every path that names one', () => {
    const lines = s.logs.lines();
    const about = (msg: string) => lines.find((l) => String(l.msg).startsWith(msg));
    expect(about('resent HL7 message')).toMatchObject({ controlId: sha(ids.stored!) });
    expect(about('HL7 control id reused with other content')).toMatchObject({ controlId: sha(ids.stored!) });
    expect(about('HL7 message refused')).toMatchObject({ controlId: sha(ids.refused!) });
    expect(about('an ACK came in on the HL7 listener')).toMatchObject({ controlId: sha(ids.ack!), ackedControlId: sha(ids.stored!) });
    expect(about('legacy refused an HL7 message')).toMatchObject({ controlId: sha(ids.refusedByLegacy!) });
  });

  it('finds the message by the logged form through the API, as by the control id itself', async () => {
    const byHash = await api<{ messages: { id: number; controlId: string }[] }>(s.a.apiUrl, 'GET', `/api/hl7/messages?controlId=${encodeURIComponent(sha(ids.refusedByLegacy!))}`);
    expect(byHash.status).toBe(200);
    expect(byHash.body.messages.map((m) => m.controlId)).toEqual([ids.refusedByLegacy]);
    const byId = await api<{ messages: { id: number }[] }>(s.a.apiUrl, 'GET', `/api/hl7/messages?controlId=${encodeURIComponent(ids.refusedByLegacy!)}`);
    expect(byId.body.messages.map((m) => m.id)).toEqual(byHash.body.messages.map((m) => m.id));
    // no key here, so the logs hold no hmac: form
    const hmacAsked = await api<{ detail: string }>(s.a.apiUrl, 'GET', '/api/hl7/messages?controlId=hmac:0123456789ab');
    expect(hmacAsked.status).toBe(400);
    expect(hmacAsked.body.detail).toContain('FICUS_LOG_ID_KEY');
  });

  it('shows a control id shaped like a generated id (a UUID) as it is, as the gateway does', async () => {
    const uuid = '3f0b7f3e-6a8f-4c2b-9d0e-2f1a6b5c4d3e';
    const client = await MllpTestClient.open(s.a.adapter.port);
    const m = syntheticMessage({ controlId: uuid, mrn: '8400124' });
    await client.send(m);
    await client.send(m);
    client.close();
    expect(s.logs.lines().find((l) => String(l.msg).startsWith('resent HL7 message') && l.controlId === uuid)).toBeDefined();
  });
});

describe('control ids in the logs, with FICUS_LOG_ID_KEY', () => {
  const key = 'a deployment secret, longer than one SHA-256 block of sixty-four bytes, to test the pads';
  let s: Scene;
  let ids: Record<string, string>;
  beforeAll(async () => {
    s = await startScene({ FICUS_LOG_ID_KEY: key });
    ids = await sendThroughEveryPath(s, 'K');
  });
  afterAll(async () => {
    await s?.a.close();
    await s?.inbound.stop();
  });

  it('shows each as hmac: under the key, and the API finds the message by it', async () => {
    expect(s.logs.text()).not.toContain(MRN);
    const line = s.logs.lines().find((l) => String(l.msg).startsWith('legacy refused an HL7 message'));
    expect(line).toMatchObject({ controlId: hmac(ids.refusedByLegacy!, key) });
    const found = await api<{ messages: { controlId: string }[] }>(s.a.apiUrl, 'GET', `/api/hl7/messages?controlId=${encodeURIComponent(String(line!.controlId))}`);
    expect(found.body.messages.map((m) => m.controlId)).toEqual([ids.refusedByLegacy]);
    // the plain hash names the same message (logs from before the key was set)
    const old = await api<{ messages: { controlId: string }[] }>(s.a.apiUrl, 'GET', `/api/hl7/messages?controlId=${encodeURIComponent(sha(ids.refusedByLegacy!))}`);
    expect(old.body.messages.map((m) => m.controlId)).toEqual([ids.refusedByLegacy]);
  });
});

describe('control ids in the logs, with HL7_LOG_CONTROL_IDS=plain', () => {
  let s: Scene;
  let ids: Record<string, string>;
  beforeAll(async () => {
    s = await startScene({ HL7_LOG_CONTROL_IDS: 'plain' });
    ids = await sendThroughEveryPath(s, 'P');
  });
  afterAll(async () => {
    await s?.a.close();
    await s?.inbound.stop();
  });

  it('shows them as they are', () => {
    const lines = s.logs.lines();
    expect(lines.find((l) => String(l.msg).startsWith('legacy refused an HL7 message'))).toMatchObject({ controlId: ids.refusedByLegacy });
    expect(lines.find((l) => String(l.msg).startsWith('an ACK came in'))).toMatchObject({ controlId: ids.ack, ackedControlId: ids.stored });
    expect(s.logs.text()).toContain(ids.refused);
  });
});
