/**
 * The HL7 views say when a new service gave up on a message the adapter delivered to its queue
 * (mode new; the service dead-letters an ORU for a patient it does not know, AE 204): the
 * delivery stays `delivered` (the queue took it) but carries gaveUp with the service's reason,
 * `?delivery=dead` lists it and `?delivery=delivered` does not, one message shows it, and
 * /stats counts it for the service's queue. Replayed from the service's dead letters (and taken
 * this time), the mark is gone. Over a real adapter, Redis and the real PartitionedConsumer.
 * (A probe of the demo on 2026-12-07 found such messages shown `delivered`, missing from
 * `--delivery dead`, and stats saying DEAD 0, while `ficus queues dead-letters` listed them.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unknownPatient } from '@ficus/hl7-protocol';
import { api, hl7Rules, startAdapterUnderTest, until, type AdapterUnderTest } from './support/adapter-harness.js';
import { MllpTestClient, syntheticMessage } from './support/mllp-test-client.js';
import { ServiceStandIn } from './support/service-stand-in.js';

let a: AdapterUnderTest;
let service: ServiceStandIn;

interface Delivery {
  id: number;
  target: string;
  status: string;
  gaveUp?: { error: string; at: string | null } | null;
}
interface Listed {
  id: number;
  controlId: string;
  deliveries: Delivery[];
}

beforeAll(async () => {
  service = await ServiceStandIn.start(['patient-service', 'results-service']);
  a = await startAdapterUnderTest({ files: hl7Rules('mllp://127.0.0.1:9', 'new'), env: { REDIS_URL: service.redis.url, HL7_QUEUE_PREFIX: 'bull' } });
});
afterAll(async () => {
  await a?.close();
  await service?.close();
});

const listed = async (query: string) => (await api<{ messages: Listed[] }>(a.apiUrl, 'GET', `/api/hl7/messages${query}`)).body.messages;
const oru = (controlId: string, mrn: string) => syntheticMessage({ controlId, mrn, type: 'ORU', trigger: 'R01' });

describe('a message the service gave up on', () => {
  it('is shown so in the listing, the delivery filter, one message and the stats; replayed and taken, it is not', async () => {
    service.decide = (id) => (id === 'GU-AE-1' ? unknownPatient() : 'take');
    const client = await MllpTestClient.open(a.adapter.port);
    for (const m of [oru('GU-AE-1', 'NOSUCH1'), oru('GU-OK-1', 'KNOWN1')]) expect((await client.send(m)).get('MSA-1')).toBe('AA');
    client.close();
    await until(() => (service.takenOf('GU-OK-').length === 1 ? true : undefined), 'the known patient\'s result taken');
    // the service's dead letter is written before its job completes
    const letter = await until(async () => {
      const r = await api<{ deadLetters: { queue: string; id: string }[] }>(a.apiUrl, 'GET', '/api/hl7/queues/dead-letters');
      return r.body.deadLetters[0];
    }, 'the service dead-lettered GU-AE-1');

    const [gaveUp] = await listed('?controlId=GU-AE-1');
    expect(gaveUp!.deliveries).toMatchObject([{ target: 'queue:results-service', status: 'delivered', gaveUp: { error: expect.stringMatching(/^HL7 204 /) } }]);
    expect(gaveUp!.deliveries[0]!.gaveUp!.at).toEqual(expect.any(String));
    const [taken] = await listed('?controlId=GU-OK-1');
    expect(taken!.deliveries).toMatchObject([{ status: 'delivered', gaveUp: null }]);

    expect((await listed('?delivery=dead')).map((m) => m.controlId)).toEqual(['GU-AE-1']);
    expect((await listed('?delivery=delivered')).map((m) => m.controlId)).toEqual(['GU-OK-1']);
    const one = await api<Listed>(a.apiUrl, 'GET', `/api/hl7/messages/${gaveUp!.id}`);
    expect(one.body.deliveries[0]!.gaveUp!.error).toMatch(/^HL7 204 /);

    const stats = await api<{ deliveries: { target: string; dead: number; delivered: number; gaveUp: number | null }[] }>(a.apiUrl, 'GET', '/api/hl7/stats');
    expect(stats.body.deliveries.find((d) => d.target === 'queue:results-service')).toMatchObject({ dead: 0, delivered: 2, gaveUp: 1 });
    expect(stats.body.deliveries.find((d) => d.target === 'queue:patient-service')).toMatchObject({ gaveUp: 0 });
    expect(stats.body.deliveries.find((d) => d.target.startsWith('legacy:'))).toMatchObject({ gaveUp: null });

    // the patient registered since: replayed from the service's dead letters, and taken
    service.decide = () => 'take';
    const replay = await api(a.apiUrl, 'POST', '/api/hl7/queues/dead-letters/replay', { queue: letter.queue, id: letter.id, reason: 'patient registered since' });
    expect(replay.status).toBe(200);
    await until(() => (service.takenOf('GU-AE-').length === 1 ? true : undefined), 'the replayed result taken');
    expect((await listed('?controlId=GU-AE-1'))[0]!.deliveries).toMatchObject([{ status: 'delivered', gaveUp: null }]);
    expect(await listed('?delivery=dead')).toEqual([]);
  });
});
