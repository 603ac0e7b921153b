/**
 * Enhanced-mode application ACKs in mode new, over real sockets, PostgreSQL and Redis, with a
 * service consuming its partition queues with the real PartitionedConsumer: the application ACK
 * says what the service made of the message (AA once it applied it; AE with the service's own
 * code, location and reason once it gave it up, as its dead letter records it), never that the
 * queue took the job. (Until 2026-12-06 a result for an unknown patient got AA as soon as it was
 * on the queue, and the service dead-lettered it a minute later: the lab took it as filed.) The
 * wait for the service is bounded (HL7_SERVICE_ACK_WAIT_MS): past it no application ACK is sent
 * on that connection, and a resend gets it once the service has settled. And the ACK code kept
 * with each message is the one it was answered with: `none` when MSH-15 asked for none.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, unknownPatient, type Hl7Message } from '@ficus/hl7-protocol';
import { api, hl7Rules, startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient, syntheticMessage } from './support/mllp-test-client.js';
import { ServiceStandIn } from './support/service-stand-in.js';

const WAIT_MS = 3_000;
let a: AdapterUnderTest;
let service: ServiceStandIn;

beforeAll(async () => {
  service = await ServiceStandIn.start(['patient-service', 'results-service']);
  a = await startAdapterUnderTest({
    files: hl7Rules('mllp://127.0.0.1:9', 'new'),
    env: { REDIS_URL: service.redis.url, HL7_QUEUE_PREFIX: 'bull', HL7_SERVICE_ACK_WAIT_MS: String(WAIT_MS) },
  });
});
afterAll(async () => {
  await a?.close();
  await service?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const oru = (controlId: string, mrn: string, msh15 = 'AL', msh16 = 'AL') => syntheticMessage({ controlId, mrn, type: 'ORU', trigger: 'R01', msh15, msh16 });

/** ERR-2 (error location) as written: `PID^1^3^1^1` */
const errLocation = (ack: Hl7Message) => [1, 2, 3, 4, 5, 6].map((c) => ack.get(`ERR-2.${c}`)).join('^').replace(/\^+$/, '');

/** The deliveries of a message as the API lists them. */
async function deliveries(controlId: string): Promise<{ status: string; answer: string | null }[]> {
  const r = await api<{ messages: { deliveries: { status: string; answer: string | null }[] }[] }>(a.apiUrl, 'GET', `/api/hl7/messages?controlId=${controlId}`);
  return r.body.messages[0]!.deliveries;
}

describe('application ACKs in mode new', () => {
  it("a result the service gives up on (no such patient) gets AE with the service's code, location and reason, once it has: never AA", async () => {
    let waiting = true;
    // the service waits for the patient (holding the message), then gives up on it: a dead letter
    service.decide = (id) => (id === 'SVC-AE-1' ? (waiting ? 'wait' : unknownPatient()) : 'take');
    const client = await MllpTestClient.open(a.adapter.port);
    const commit = await client.send(oru('SVC-AE-1', 'NOSUCH1'));
    expect([commit.get('MSA-1'), commit.get('MSA-2')]).toEqual(['CA', 'SVC-AE-1']);
    // on the queue, the service holding it: no application ACK yet
    await sleep(1_000);
    expect(client.pending()).toBe(0);

    waiting = false;
    const app = await client.next(10_000);
    expect([app.get('MSA-1'), app.get('MSA-2')]).toEqual(['AE', 'SVC-AE-1']);
    expect([errLocation(app), app.get('ERR-3.1'), app.get('ERR-4')]).toEqual(['PID^1^3^1^1', '204', 'E']);
    expect(app.get('ERR-8')).toBe('the system of record refused the message: PID-3: no patient with this MRN');
    expect(app.get('MSH-10')).not.toBe(commit.get('MSH-10'));

    // kept with the message: a resend gets CA and the same AE at once
    expect(await deliveries('SVC-AE-1')).toMatchObject([{ status: 'delivered', answer: 'AE: HL7 204 at PID^1^3^1^1: PID-3: no patient with this MRN' }]);
    client.write(encodeFrame(oru('SVC-AE-1', 'NOSUCH1')));
    const [c2, ae2] = [await client.next(), await client.next()];
    expect([c2.get('MSA-1'), ae2.get('MSA-1'), ae2.get('ERR-3.1'), errLocation(ae2)]).toEqual(['CA', 'AE', '204', 'PID^1^3^1^1']);
    client.close();
  });

  it('a message the service applies gets AA only once it has, and a resend gets AA at once; ER asks for an answer on refusals only', async () => {
    let waiting = true;
    service.decide = (id) => (id === 'SVC-AA-1' && waiting ? 'wait' : id === 'SVC-ER-2' ? unknownPatient() : 'take');
    const client = await MllpTestClient.open(a.adapter.port);
    expect((await client.send(oru('SVC-AA-1', 'KNOWN1'))).get('MSA-1')).toBe('CA');
    await sleep(800);
    expect(client.pending()).toBe(0);
    waiting = false;
    const app = await client.next(10_000);
    const answeredAt = Date.now();
    expect([app.get('MSA-1'), app.get('MSA-2')]).toEqual(['AA', 'SVC-AA-1']);
    expect(service.taken.find((t) => t.controlId === 'SVC-AA-1')!.at).toBeLessThanOrEqual(answeredAt);
    expect(await deliveries('SVC-AA-1')).toMatchObject([{ status: 'delivered', answer: 'AA' }]);
    client.write(encodeFrame(oru('SVC-AA-1', 'KNOWN1')));
    const [c2, a2] = [await client.next(), await client.next()];
    expect([c2.get('MSA-1'), a2.get('MSA-1'), a2.get('MSA-2')]).toEqual(['CA', 'AA', 'SVC-AA-1']);

    // MSH-16 ER: nothing for the one applied, AE for the one given up
    expect((await client.send(oru('SVC-ER-1', 'KNOWN2', 'AL', 'ER'))).get('MSA-1')).toBe('CA');
    expect((await client.send(oru('SVC-ER-2', 'NOSUCH2', 'AL', 'ER'))).get('MSA-1')).toBe('CA');
    const ae = await client.next(10_000);
    expect([ae.get('MSA-1'), ae.get('MSA-2'), ae.get('ERR-3.1')]).toEqual(['AE', 'SVC-ER-2', '204']);
    await sleep(500);
    expect(client.pending()).toBe(0);
    client.close();
  });

  it('waits for the service at most HL7_SERVICE_ACK_WAIT_MS: then sends none; the resend gets it once the service has settled', async () => {
    let waiting = true;
    service.decide = (id) => (id === 'SVC-LATE-1' ? (waiting ? 'wait' : unknownPatient()) : 'take');
    const client = await MllpTestClient.open(a.adapter.port);
    expect((await client.send(oru('SVC-LATE-1', 'NOSUCH3'))).get('MSA-1')).toBe('CA');
    await sleep(WAIT_MS + 1_000);
    expect(client.pending()).toBe(0);
    // settled after the wait: nothing more on this connection
    waiting = false;
    await until(async () => {
      const r = await api<{ deadLetters: { error: string; summary: { controlId: string } }[] }>(a.apiUrl, 'GET', '/api/hl7/queues/dead-letters?prefix=hl7.results-service');
      return r.body.deadLetters.find((l) => l.summary.controlId === 'SVC-LATE-1');
    }, 'the service gave it up');
    await sleep(800);
    expect(client.pending()).toBe(0);
    // the resend: CA, then the AE as soon as the adapter has asked the queue
    client.write(encodeFrame(oru('SVC-LATE-1', 'NOSUCH3')));
    expect((await client.next()).get('MSA-1')).toBe('CA');
    const app = await client.next(5_000);
    expect([app.get('MSA-1'), app.get('MSA-2'), app.get('ERR-3.1')]).toEqual(['AE', 'SVC-LATE-1', '204']);
    client.close();
  });

  it('keeps the ACK code each message was answered with: none when MSH-15 asked for no commit ACK', async () => {
    service.decide = () => 'take';
    const client = await MllpTestClient.open(a.adapter.port);
    expect((await client.send(oru('ACK-ORIG', 'K1', '', ''))).get('MSA-1')).toBe('AA');
    expect((await client.send(oru('ACK-AL', 'K2', 'AL', 'NE'))).get('MSA-1')).toBe('CA');
    // NE: no commit ACK; the application ACK (AL) comes once the service took it
    client.write(encodeFrame(oru('ACK-NE', 'K3', 'NE', 'AL')));
    const app = await client.next(10_000);
    expect([app.get('MSA-1'), app.get('MSA-2')]).toEqual(['AA', 'ACK-NE']);
    client.close();
    const codes = await api<{ messages: { controlId: string; ackCode: string }[] }>(a.apiUrl, 'GET', '/api/hl7/messages?limit=10');
    const byId = new Map(codes.body.messages.map((m) => [m.controlId, m.ackCode]));
    expect([byId.get('ACK-ORIG'), byId.get('ACK-AL'), byId.get('ACK-NE')]).toEqual(['AA', 'CA', 'none']);

    // a row stored before the fix (CA though none was sent) is shown as none
    const db = new pg.Client({ connectionString: a.messageDb.url });
    await db.connect();
    await db.query("UPDATE hl7_messages SET ack_code = 'CA' WHERE control_id = 'ACK-NE'");
    await db.end();
    const again = await api<{ ackCode: string }>(a.apiUrl, 'GET', `/api/hl7/messages/${(await api<{ messages: { id: number }[] }>(a.apiUrl, 'GET', '/api/hl7/messages?controlId=ACK-NE')).body.messages[0]!.id}`);
    expect(again.body.ackCode).toBe('none');
  });
});
