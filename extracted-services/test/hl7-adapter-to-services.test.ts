/**
 * The real HL7 adapter in front of the services: messages sent over MLLP to the adapter, in
 * mode dual (the legacy inbound and the service's queue both get them; the legacy stays the
 * system of record) and in mode new (only the service). The services apply what the adapter
 * puts on their queues, to the same effect as the legacy.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenStore } from '@ficus/contracts';
import type { QueueDeadLetterAction, QueueDeadLetters } from '@ficus/contracts/api';
import { ask, hl7Time, startServiceScene, type ServiceScene } from '../../test-support/service-scene.js';
import { hl7, MllpClient, msh, segment, uniqueControlId } from '../../examples/legacy-his/test/support/mllp-client.js';
import { api, hl7Rules, startAdapterUnderTest, type AdapterUnderTest } from '../../legacy-adapters/hl7-adapter/test/support/adapter-harness.js';
import { until } from '../../test-support/until.js';

let scene: ServiceScene;

beforeAll(async () => {
  scene = await startServiceScene({ prefix: 'svc_adapter', redisDb: 10, patients: 20, seed: 1_010, hl7Inbound: true });
  await scene.cdc.snapshot();
  await scene.drain();
});
afterAll(async () => {
  await scene?.close();
});

const at = () => hl7Time(new Date(Date.now() + 60_000));
const status = async (base: string, path: string) => (await ask(base, path)).status;
const withoutIdsAndTimes = (body: string) => body.replace(/"(admissionId|resultId)":\d+/g, '"$1":0').replace(/"(created|lastUpdated)":"[^"]*"/g, '"$1":""');

async function withAdapter(mode: 'dual' | 'new', work: (client: MllpClient, adapter: AdapterUnderTest) => Promise<void>): Promise<void> {
  let adapter: AdapterUnderTest | undefined;
  let client: MllpClient | undefined;
  try {
    adapter = await startAdapterUnderTest({ files: hl7Rules(`mllp://127.0.0.1:${scene.inbound!.port}`, mode), env: { REDIS_URL: scene.redisUrl, HL7_PARTITIONS: '8', HL7_QUEUE_PREFIX: 'bull' } });
    client = await MllpClient.connect(adapter.adapter.port);
    await work(client, adapter);
  } finally {
    client?.close();
    await adapter?.close();
  }
}

describe('through the HL7 adapter', () => {
  it('mode dual: the legacy and patient-service and results-service all apply the messages alike', async () => {
    const mrn = '7600001';
    await withAdapter('dual', async (client) => {
      const a01 = hl7(
        msh('ADT^A01^ADT_A01', uniqueControlId('A01'), { time: at() }),
        `EVN|A01|${at()}`,
        segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR`, 5: 'adapter^ada', 7: '19850505', 8: 'F' }),
        segment('PV1', { 1: '1', 2: 'I', 3: 'SURG^^8', 19: 'V7600001', 44: '202407011200' }),
      );
      expect((await client.request(a01)).code).toBe('AA');
      const oru = hl7(
        msh('ORU^R01^ORU_R01', uniqueControlId('ORU'), { facility: 'CORELAB', time: at() }),
        `PID|1||${mrn}^^^GENHOSP^MR`,
        segment('PV1', { 1: '1', 19: 'V7600001' }),
        segment('OBR', { 1: '1', 3: 'L76000001', 7: '20240701130000' }),
        segment('OBX', { 1: '1', 2: 'NM', 3: '2345-7^GLUCOSE^LN', 5: '140', 6: 'mg/dL', 7: '70-99', 8: 'H', 11: 'F' }),
      );
      // the result follows the admission: ADT and ORU go to different services, so the test waits for the stay first
      await until(async () => (await status(scene.legacy.base, `/api/encounters?mrn=${mrn}`)) === 200 && (await status(scene.patients.url, `/api/encounters?mrn=${mrn}`)) === 200, 'the admission everywhere');
      expect((await client.request(oru)).code).toBe('AA');
      await until(async () => {
        const [l, s] = await Promise.all([ask(scene.legacy.base, `/api/results?mrn=${mrn}`), ask(scene.results.url, `/api/results?mrn=${mrn}`)]);
        return l.body.includes('L76000001') && s.body.includes('L76000001');
      }, 'the result everywhere');
    });
    for (const [base, service, path] of [
      [scene.legacy.base, scene.patients.url, `/api/patients/${mrn}`],
      [scene.legacy.base, scene.patients.url, `/api/encounters?mrn=${mrn}`],
      [scene.legacy.base, scene.results.url, `/api/results?mrn=${mrn}`],
    ] as const) {
      expect(withoutIdsAndTimes((await ask(service, path)).body)).toBe(withoutIdsAndTimes((await ask(base, path)).body));
    }
    // and once the legacy's changes came through CDC, byte for byte (admission ids included)
    await scene.cdc.sync();
    await scene.drain();
    expect(await ask(scene.results.url, `/api/results?mrn=${mrn}`)).toEqual(await ask(scene.legacy.base, `/api/results?mrn=${mrn}`));
    expect(await ask(scene.patients.url, `/api/encounters?mrn=${mrn}`)).toEqual(await ask(scene.legacy.base, `/api/encounters?mrn=${mrn}`));
  });

  it('mode new: the service alone gets the messages, as the system of record', async () => {
    await scene.restart('patients', 'service');
    const mrn = '7600002';
    await withAdapter('new', async (client) => {
      const a04 = hl7(msh('ADT^A04^ADT_A01', uniqueControlId('A04'), { time: at() }), `EVN|A04|${at()}`, segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR`, 5: 'only^new', 7: '19990909', 8: 'M' }));
      expect((await client.request(a04)).code).toBe('AA');
      await until(async () => (await status(scene.patients.url, `/api/patients/${mrn}`)) === 200, 'the registration in patient-service');
    });
    expect(await status(scene.legacy.base, `/api/patients/${mrn}`)).toBe(404);
    const { rows } = await scene.patients.pool.query<{ local: boolean }>('SELECT local_changed_at IS NOT NULL AS local FROM patient WHERE mrn = $1', [mrn]);
    expect(rows).toEqual([{ local: true }]);
  });

  it("a message a service refused: listed by the adapter's API (identifiers only), replayed once its cause is mended, on the record", async () => {
    const mrn = '7600003';
    const oru = hl7(
      msh('ORU^R01^ORU_R01', uniqueControlId('ORU'), { facility: 'CORELAB', time: at() }),
      `PID|1||${mrn}^^^GENHOSP^MR`,
      segment('OBR', { 1: '1', 3: 'L76000003', 7: '20240701130000' }),
      segment('OBX', { 1: '1', 2: 'NM', 3: '2345-7^GLUCOSE^LN', 5: '77', 6: 'mg/dL', 11: 'F' }),
    );
    await withAdapter('new', async (client, adapter) => {
      // results-service does not know the patient (and, in this scene, does not wait for it): a dead letter
      expect((await client.request(oru)).code).toBe('AA');
      const listing = await until(async () => {
        const r = await api<QueueDeadLetters>(adapter.apiUrl, 'GET', '/api/hl7/queues/dead-letters?prefix=hl7.results-service');
        return r.body.deadLetters.length > 0 ? r.body : undefined;
      }, 'the dead letter listed');
      expect(listing.counts).toEqual([{ prefix: 'hl7.results-service', count: 1 }]);
      const [letter] = listing.deadLetters;
      expect(letter).toMatchObject({ queue: expect.stringMatching(/^hl7\.results-service\.p\d$/), error: expect.stringContaining('HL7 204'), summary: { controlId: expect.stringMatching(/^ORU/), sendingFacility: 'CORELAB', type: 'ORU^R01', replay: false } });
      expect(JSON.stringify(letter)).not.toContain(mrn);

      // the same tokens and roles as the rest of the admin API
      expect((await fetch(`${adapter.apiUrl}/api/hl7/queues/dead-letters`)).status).toBe(401);
      const tokens = new pg.Pool({ connectionString: adapter.ruleDb.url, max: 1 });
      const viewer = (await new TokenStore(tokens).create('ward-viewer', 'viewer', 'test')).token;
      await tokens.end();
      const asViewer = (method: string, path: string, body?: unknown) =>
        fetch(adapter.apiUrl + path, { method, headers: { authorization: `Bearer ${viewer}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      expect((await asViewer('GET', '/api/hl7/queues/dead-letters')).status).toBe(200);
      expect((await asViewer('POST', '/api/hl7/queues/dead-letters/replay', { queue: letter!.queue, id: letter!.id, reason: 'viewer tries' })).status).toBe(403);

      // the registration comes; the operator replays the result
      const a04 = hl7(msh('ADT^A04^ADT_A01', uniqueControlId('A04'), { time: at() }), `EVN|A04|${at()}`, segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR`, 5: 'late^registration', 7: '19800101', 8: 'F' }));
      expect((await client.request(a04)).code).toBe('AA');
      await until(async () => (await status(scene.patients.url, `/api/patients/${mrn}`)) === 200, 'the registration in patient-service');
      const replay = await api<QueueDeadLetterAction>(adapter.apiUrl, 'POST', '/api/hl7/queues/dead-letters/replay', { queue: letter!.queue, id: letter!.id, reason: 'patient registered late' });
      expect(replay.status).toBe(200);
      expect(replay.body.replayedAs).toMatch(/-replayed-\d+$/);
      await until(async () => (await ask(scene.results.url, `/api/results?mrn=${mrn}`)).body.includes('L76000003'), 'the replayed result applied');
      expect((await api<QueueDeadLetters>(adapter.apiUrl, 'GET', '/api/hl7/queues/dead-letters?prefix=hl7.results-service')).body.counts).toEqual([{ prefix: 'hl7.results-service', count: 0 }]);
      const again = await api<{ type: string }>(adapter.apiUrl, 'POST', '/api/hl7/queues/dead-letters/replay', { queue: letter!.queue, id: letter!.id, reason: 'twice' });
      expect([again.status, again.body.type]).toEqual([404, 'https://ficus.dev/problems/dead-letter-not-found']);

      const audit = new pg.Pool({ connectionString: adapter.ruleDb.url, max: 1 });
      const { rows } = await audit.query<{ actor: string; outcome: string; reason: string; control_id: string }>(
        "SELECT actor, outcome, reason, detail->>'controlId' AS control_id FROM audit_log WHERE action = 'hl7.dead-letter.replay' ORDER BY id",
      );
      await audit.end();
      expect(rows.map((r) => [r.actor, r.outcome, r.reason])).toEqual([
        ['token:ward-viewer', 'denied', 'viewer tries'],
        ['token:hl7-test', 'ok', 'patient registered late'],
        ['token:hl7-test', 'refused', 'twice'],
      ]);
      expect(rows[1]!.control_id).toBe(letter!.summary.controlId);
    });
  });

  it('names outside ASCII reach patient-service intact over MLLP and the queue: UTF-8 (MÜLLER, 王) and Latin-1 alike', async () => {
    // the job carries the message's bytes as a latin1 string (one character a byte): the service must get the bytes back, not read the characters
    const cases = [
      { mrn: '7600004', charset: 'UNICODE UTF-8', name: 'MÜLLER^王', encoding: 'utf8' as const, given: '王' },
      { mrn: '7600005', charset: '8859/1', name: 'MÜLLER^JÖRG', encoding: 'latin1' as const, given: 'JÖRG' },
    ];
    await withAdapter('new', async (client) => {
      for (const c of cases) {
        const a04 = hl7(`${msh('ADT^A04^ADT_A01', uniqueControlId('A04'), { time: at() })}||||||${c.charset}`, `EVN|A04|${at()}`, segment('PID', { 1: '1', 3: `${c.mrn}^^^GENHOSP^MR`, 5: c.name, 7: '19700101', 8: 'F' }));
        expect((await client.request(Buffer.from(a04, c.encoding))).code, c.charset).toBe('AA');
      }
      // a batch file re-saved by an editor: UTF-8 behind a byte order mark, MSH-18 still 8859/1 (the mark outweighs it)
      const batched = { mrn: '7600006', given: '王' };
      const member = hl7(`${msh('ADT^A04^ADT_A01', uniqueControlId('A04'), { time: at() })}||||||8859/1`, `EVN|A04|${at()}`, segment('PID', { 1: '1', 3: `${batched.mrn}^^^GENHOSP^MR`, 5: 'MÜLLER^王', 7: '19700101', 8: 'F' }));
      expect((await client.request(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(hl7('BHS|^~\\&|REGADT|GENHOSP', member.replace(/\r$/, ''), 'BTS|1'))]))).code).toBe('AA');
      cases.push({ ...batched, charset: '8859/1', name: 'MÜLLER^王', encoding: 'utf8' });
      for (const c of cases) await until(async () => (await status(scene.patients.url, `/api/patients/${c.mrn}`)) === 200, `${c.mrn} in patient-service`);
    });
    const { rows } = await scene.patients.pool.query<{ mrn: string; family_name: string; given_name: string }>('SELECT mrn, family_name, given_name FROM patient WHERE mrn = ANY($1) ORDER BY mrn', [cases.map((c) => c.mrn)]);
    // until 2026-12-07 the batch's message reached the service as MÃ\u009cLLER: stored without the mark, read as MSH-18 said
    expect(rows).toEqual(cases.map((c) => ({ mrn: c.mrn, family_name: 'MÜLLER', given_name: c.given })));
  });
});
