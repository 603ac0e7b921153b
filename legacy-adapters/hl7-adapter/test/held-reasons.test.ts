/**
 * A pending delivery says why it waits (the README's "shown with why"): in mode new, a result of
 * two patients (A, B) behind B's earlier result the service holds (its patient not known yet)
 * is pending with attempts 0 and no last error, since waiting is not a failed attempt; the
 * views read what holds it: the service's unfinished jobs in B's lane, and, for the later
 * messages of A's and B's lanes, the message of several patients itself. Over a real adapter,
 * Redis and the real PartitionedConsumer. (A probe of the demo on 2026-12-07 found such a
 * message shown only as pending, attempts 0, lastError null.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '@ficus/contracts';
import { api, hl7Rules, startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient } from './support/mllp-test-client.js';
import { ServiceStandIn } from './support/service-stand-in.js';

let a: AdapterUnderTest;
let service: ServiceStandIn;

beforeAll(async () => {
  service = await ServiceStandIn.start(['patient-service', 'results-service']);
  a = await startAdapterUnderTest({ files: hl7Rules('mllp://127.0.0.1:9', 'new'), env: { REDIS_URL: service.redis.url, HL7_QUEUE_PREFIX: 'bull' } });
});
afterAll(async () => {
  await a?.close();
  await service?.close();
});

const lane = (mrn: string) => partitionOf(mrn, 8);

function oru(controlId: string, ...mrns: string[]): string {
  const groups = mrns.flatMap((mrn, i) => [`PID|${i + 1}||${mrn}^^^GENHOSP^MR||TESTPATIENT^SYNTH`, 'OBR|1||ORD1|2823-3^Potassium^LN|||20240701080000||||||||||||||||||F', 'OBX|1|NM|2823-3^Potassium^LN||4.0|mmol/L|3.5-5.1||||F']);
  return [`MSH|^~\\&|LAB|CORELAB|HIS|GENHOSP|20240701083000||ORU^R01^ORU_R01|${controlId}|P|2.5`, ...groups].join('\r') + '\r';
}

interface Delivery {
  target: string;
  status: string;
  attempts: number;
  lastError: string | null;
  held: string | null;
}
const one = async (controlId: string) => (await api<{ messages: { id: number; deliveries: Delivery[] }[] }>(a.apiUrl, 'GET', `/api/hl7/messages?controlId=${controlId}`)).body.messages[0]!;

describe('a held delivery', () => {
  it('says what holds it: the service\'s unfinished jobs of its other patients, or the message of several patients', async () => {
    const A = 'HELDA';
    let B = 'HELDB1';
    for (let i = 2; lane(B) === lane(A); i++) B = `HELDB${i}`;
    service.decide = (id) => (id === 'HR-B1' ? 'wait' : 'take');
    const client = await MllpTestClient.open(a.adapter.port);
    for (const m of [oru('HR-B1', B), oru('HR-MULTI', A, B), oru('HR-A2', A), oru('HR-B2', B)]) expect((await client.send(m)).get('MSA-1')).toBe('AA');
    client.close();
    const multi = await until(async () => {
      const m = await one('HR-MULTI');
      return m.deliveries[0]!.held ? m : undefined;
    }, 'the message of several patients said to be held');
    expect(multi.deliveries).toMatchObject([{ target: 'queue:results-service', status: 'pending', attempts: 0, lastError: null }]);
    expect(multi.deliveries[0]!.held).toMatch(new RegExp(`^a message of several patients: waits until results-service has finished the jobs already on its queue for its other patients \\(partitions ${lane(B)}\\)`));
    expect((await one('HR-A2')).deliveries[0]).toMatchObject({ status: 'pending', held: `waits behind message ${multi.id}, pending before it in its lane (the same patient)` });
    expect((await one('HR-B2')).deliveries[0]).toMatchObject({ status: 'pending', held: `waits until message ${multi.id}, of several patients including this one's, has reached queue:results-service` });
    // the same in one message's view
    expect((await api<{ deliveries: Delivery[] }>(a.apiUrl, 'GET', `/api/hl7/messages/${multi.id}`)).body.deliveries[0]!.held).toBe(multi.deliveries[0]!.held);

    // the patient known since: all go, and nothing is held
    service.decide = () => 'take';
    await until(() => (service.takenOf('HR-').length === 4 ? true : undefined), 'the service took them all');
    await until(async () => ((await one('HR-B2')).deliveries[0]!.status === 'delivered' ? true : undefined), 'all delivered');
    for (const id of ['HR-MULTI', 'HR-A2', 'HR-B2']) expect((await one(id)).deliveries[0]!.held).toBeNull();
  });
});
