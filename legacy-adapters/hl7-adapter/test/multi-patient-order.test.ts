/**
 * A message of several patients (an ORU carrying two patients' results) keeps each of its
 * patients' order at every target, in mode dual: the legacy inbound (a real MLLP server) and a
 * service consuming its partition queues with the real PartitionedConsumer, over real
 * PostgreSQL, Redis and sockets. It travels in its first patient's lane, so it must wait for
 * what is older in the second patient's lane, held by legacy ("not now") or by the service
 * (waiting for an unknown patient), and the second patient's later messages must wait for it.
 * (Until 2026-12-06 only merges waited, and only for the adapter's own lanes: the second
 * patient's final result was applied before their preliminary one, which then showed as newest.)
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, unknownPatient } from '@ficus/hl7-protocol';
import { partitionOf } from '@ficus/contracts';
import { hl7Rules, startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient } from './support/mllp-test-client.js';
import { ServiceStandIn } from './support/service-stand-in.js';
import { TestInbound } from './support/test-inbound.js';

let a: AdapterUnderTest;
let inbound: TestInbound;
let service: ServiceStandIn;
let db: pg.Client;

beforeAll(async () => {
  inbound = new TestInbound();
  await inbound.start();
  service = await ServiceStandIn.start('results-service');
  a = await startAdapterUnderTest({ files: hl7Rules(inbound.url, 'dual'), env: { REDIS_URL: service.redis.url, HL7_QUEUE_PREFIX: 'bull' } });
  db = new pg.Client({ connectionString: a.messageDb.url });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await a?.close();
  await service?.close();
  await inbound?.stop();
});

const lane = (mrn: string) => partitionOf(mrn, 8);
const legacyGot = (prefix: string) => inbound.received.filter((r) => r.controlId.startsWith(prefix)).map((r) => r.controlId);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Two patients in different lanes, and a third MRN (unknown to the service) in the second one's lane. */
function patients(tag: string): { A: string; B: string; X: string } {
  const A = `${tag}A`;
  let B = `${tag}B1`;
  for (let i = 2; lane(B) === lane(A); i++) B = `${tag}B${i}`;
  let X = `${tag}X1`;
  for (let i = 2; lane(X) !== lane(B); i++) X = `${tag}X${i}`;
  return { A, B, X };
}

/** An ORU^R01 with one patient result group per patient, in this order. */
function oru(controlId: string, ...results: [mrn: string, order: string, value: string, status: 'P' | 'F'][]): string {
  const groups = results.flatMap(([mrn, order, value, status], i) => [
    `PID|${i + 1}||${mrn}^^^GENHOSP^MR||TESTPATIENT^SYNTH`,
    `OBR|1||${order}|2823-3^Potassium^LN|||20240701080000||||||||||||||||||${status}`,
    `OBX|1|NM|2823-3^Potassium^LN||${value}|mmol/L|3.5-5.1|${Number(value) > 5.1 ? 'H' : ''}|||${status}`,
  ]);
  return [`MSH|^~\\&|LAB|CORELAB|HIS|GENHOSP|20240701083000||ORU^R01^ORU_R01|${controlId}|P|2.5`, ...groups].join('\r') + '\r';
}

/** Sends the messages one after the other on one connection, each answered AA (stored) before the next. */
async function send(...messages: string[]): Promise<void> {
  const client = await MllpTestClient.open(a.adapter.port);
  for (const m of messages) expect((await client.send(m)).get('MSA-1')).toBe('AA');
  client.close();
}

/** `before` came before `after` in `order` (both there). */
function expectBefore(order: string[], before: string, after: string): void {
  expect(order).toContain(before);
  expect(order).toContain(after);
  expect(order.indexOf(before), `${before} before ${after} in ${order.join(', ')}`).toBeLessThan(order.indexOf(after));
}

describe('a message of several patients', () => {
  it("waits for the second patient's earlier result held by the service (its lane waits for an unknown patient): the final is applied after the preliminary", async () => {
    const { A, B, X } = patients('SVC');
    const order = 'SVC-ORD';
    let holding = true;
    // the service holds X's result (its patient not known yet), and with it X's partition, B's
    service.decide = (id) => (id === 'SVC-X' ? (holding ? 'wait' : unknownPatient()) : 'take');
    await send(oru('SVC-X', [X, `${order}X`, '5.0', 'F']), oru('SVC-BP', [B, order, '5.9', 'P']), oru('SVC-MULTI', [A, `${order}A`, '4.1', 'F'], [B, order, '4.0', 'F']), oru('SVC-AL', [A, `${order}A2`, '4.2', 'F']));
    // legacy holds nothing: it has them all, in order
    await until(() => (legacyGot('SVC-').length === 4 ? true : undefined), 'legacy has them all');
    await sleep(1_500);
    // nothing of B's lane nor the message naming B has been applied by the service meanwhile
    expect(service.takenOf('SVC-')).toEqual([]);
    const multi = await db.query<{ status: string; attempts: number }>(
      "SELECT d.status, d.attempts FROM hl7_deliveries d JOIN hl7_messages m ON m.id = d.message_id WHERE m.control_id = 'SVC-MULTI' AND d.target = 'queue:results-service'",
    );
    // waiting is not a failed attempt
    expect(multi.rows).toEqual([{ status: 'pending', attempts: 0 }]);

    holding = false; // the wait is over: X becomes a dead letter, B's lane goes on
    await until(() => (service.takenOf('SVC-').length === 3 ? true : undefined), 'the service took the rest');
    const taken = service.takenOf('SVC-');
    expectBefore(taken, 'SVC-BP', 'SVC-MULTI');
    expectBefore(taken, 'SVC-MULTI', 'SVC-AL');
    expect(service.taken.find((t) => t.controlId === 'SVC-MULTI')!.mrns).toEqual([A, B]);
  });

  it("waits for the second patient's earlier message legacy holds (\"not now\"), and only in legacy's lanes: the service, holding nothing, has them at once", async () => {
    const { A, B } = patients('LEG');
    let refusing = true;
    // legacy cannot take B's preliminary now: a bare AR, tried again with backoff, holding B's lane
    inbound.answer = (m) => (m.header.controlId === 'LEG-BP' && refusing ? 'AR' : 'AA');
    service.decide = () => 'take';
    await send(oru('LEG-BP', [B, 'LEG-ORD', '5.9', 'P']), oru('LEG-MULTI', [A, 'LEG-ORDA', '4.1', 'F'], [B, 'LEG-ORD', '4.0', 'F']), oru('LEG-BL', [B, 'LEG-ORD2', '4.4', 'F']));
    await until(() => (service.takenOf('LEG-').length === 3 ? true : undefined), 'the service took them all');
    expect(service.takenOf('LEG-')).toEqual(['LEG-BP', 'LEG-MULTI', 'LEG-BL']);
    await sleep(1_500);
    expect(legacyGot('LEG-')).toEqual([]);

    refusing = false;
    inbound.answer = () => 'AA';
    await until(() => (legacyGot('LEG-').length === 3 ? true : undefined), 'legacy has them all');
    expect(legacyGot('LEG-')).toEqual(['LEG-BP', 'LEG-MULTI', 'LEG-BL']);
  });

  it("holds the second patient's later messages until it reached each target, however long its own lane waits", async () => {
    const { A, B } = patients('REV');
    let holding = true;
    // A's lane is held at both targets by an older message of A's
    inbound.answer = (m) => (m.header.controlId === 'REV-AH' && holding ? 'AR' : 'AA');
    service.decide = (id) => (id === 'REV-AH' && holding ? 'wait' : 'take');
    await send(oru('REV-AH', [A, 'REV-ORDA', '4.1', 'P']), oru('REV-MULTI', [A, 'REV-ORDA', '4.2', 'F'], [B, 'REV-ORD', '5.9', 'P']), oru('REV-BL', [B, 'REV-ORD', '4.0', 'F']));
    await sleep(1_500);
    expect(legacyGot('REV-')).toEqual([]);
    expect(service.takenOf('REV-')).toEqual([]);
    const bl = await db.query<{ status: string }>("SELECT d.status FROM hl7_deliveries d JOIN hl7_messages m ON m.id = d.message_id WHERE m.control_id = 'REV-BL' ORDER BY d.target");
    expect(bl.rows.map((r) => r.status)).toEqual(['pending', 'pending']);

    holding = false;
    await until(() => (legacyGot('REV-').length === 3 && service.takenOf('REV-').length === 3 ? true : undefined), 'both have them all');
    expect(legacyGot('REV-')).toEqual(['REV-AH', 'REV-MULTI', 'REV-BL']);
    expect(service.takenOf('REV-')).toEqual(['REV-AH', 'REV-MULTI', 'REV-BL']);
    // the message held for the service said why while it waited, and is delivered now
    const multi = await db.query<{ status: string; last_error: string | null }>(
      "SELECT d.status, d.last_error FROM hl7_deliveries d JOIN hl7_messages m ON m.id = d.message_id WHERE m.control_id = 'REV-MULTI' AND d.target = 'queue:results-service'",
    );
    await until(async () => ((await db.query("SELECT 1 FROM hl7_deliveries d JOIN hl7_messages m ON m.id = d.message_id WHERE m.control_id LIKE 'REV-%' AND d.status = 'pending'")).rows.length === 0 ? true : undefined), 'all marked delivered');
    expect(multi.rows[0]!.last_error).toMatch(/until the service is done with it/);
  });

  it('two such messages naming each other\'s first patient, sent together with later messages of both, all arrive, each patient\'s in order', async () => {
    const { A, B } = patients('X2');
    inbound.answer = () => 'AA';
    service.decide = () => 'take';
    const client = await MllpTestClient.open(a.adapter.port);
    const msgs = [
      oru('X2-1', [A, 'X2-O1', '4.1', 'F'], [B, 'X2-O2', '4.2', 'F']),
      oru('X2-2', [B, 'X2-O3', '4.3', 'F'], [A, 'X2-O4', '4.4', 'F']),
      oru('X2-3', [A, 'X2-O5', '4.5', 'F']),
      oru('X2-4', [B, 'X2-O6', '4.6', 'F']),
      oru('X2-5', [A, 'X2-O7', '4.7', 'F'], [B, 'X2-O8', '4.8', 'F']),
    ];
    client.write(Buffer.concat(msgs.map((m) => encodeFrame(m))));
    for (let i = 0; i < msgs.length; i++) expect((await client.next()).get('MSA-1')).toBe('AA');
    client.close();
    await until(() => (legacyGot('X2-').length === 5 && service.takenOf('X2-').length === 5 ? true : undefined), 'both have them all');
    // every message but X2-3 (A alone) and X2-4 (B alone) names both patients: each patient's come in the order sent
    for (const got of [legacyGot('X2-'), service.takenOf('X2-')]) {
      expectBefore(got, 'X2-1', 'X2-2');
      expectBefore(got, 'X2-2', 'X2-3');
      expectBefore(got, 'X2-2', 'X2-4');
      expectBefore(got, 'X2-3', 'X2-5');
      expectBefore(got, 'X2-4', 'X2-5');
    }
  });
});
