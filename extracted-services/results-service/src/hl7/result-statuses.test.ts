/**
 * The result statuses of HL7 table 0085 (OBX-11), each applied by the legacy inbound (over
 * MLLP) and by results-service (a job on its queue, as in mode dual): both store the same
 * thing, first from the message alone (the service's early copy, ids and times aside), then
 * byte for byte once the legacy's rows came through CDC; a difference here is one the parity
 * check and `ficus reconcile` would flag. Above all U, "status change to final without
 * retransmitting results already sent as preliminary", which erased the preliminary value on
 * both sides (2026-12 probe: value, units, range and flag null, status F).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ask, deadLetters, hl7Time, startServiceScene, type Answer, type ServiceScene } from '../../../../test-support/service-scene.js';
import { hl7, MllpClient, msh, segment, uniqueControlId, type Ack } from '../../../../examples/legacy-his/test/support/mllp-client.js';

let scene: ServiceScene;
let client: MllpClient;
let seeded: string[];

beforeAll(async () => {
  scene = await startServiceScene({ prefix: 'rs_statuses', redisDb: 2, patients: 20, seed: 2_202, hl7Inbound: true });
  await scene.cdc.snapshot();
  await scene.drain();
  client = await MllpClient.connect(scene.inbound!.port);
  const { rows } = await scene.legacy.pool.query<{ pat_mrn: string }>(`SELECT PAT_MRN FROM PATIENT_MASTER WHERE ACTIVE_FLG = 'Y' ORDER BY PAT_MRN LIMIT 6`);
  seeded = rows.map((r) => r.pat_mrn);
});
afterAll(async () => {
  client?.close();
  await scene?.close();
});

/** MSH-7 a minute ahead of the legacy's commits (see hl7-parity.test.ts) */
const sent = () => hl7Time(new Date(Date.now() + 60_000));
const oru = (mrn: string, order: string, reported: string, ...obx: string[]) =>
  hl7(
    msh('ORU^R01^ORU_R01', uniqueControlId('ORU'), { application: 'LABSYS', facility: 'CORELAB', time: sent() }),
    segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR` }),
    segment('OBR', { 1: '1', 2: `P${order}`, 3: order, 4: 'PANEL^PANEL', 7: '20241201061500', 22: reported }),
    ...obx,
  );
const obx = (n: number, type: string, test: string, value: string, units: string, range: string, flag: string, status: string) =>
  segment('OBX', { 1: String(n), 2: type, 3: test, 5: value, 6: units, 7: range, 8: flag, 11: status });
const potassium = (value: string, flag: string, status: string) => obx(1, 'NM', '2823-3^POTASSIUM^LN', value, value ? 'mmol/L' : '', value ? '3.5-5.1' : '', flag, status);

/** the same message to both: the legacy's ACK, after the service applied its copy */
async function toBoth(message: string): Promise<Ack> {
  const ack = await client.request(message);
  await scene.sendHl7('results-service', message);
  await scene.drain();
  return ack;
}

/** what an early copy cannot know yet: the legacy's ids and commit times */
function early(a: Answer): unknown {
  const body = a.body ? (JSON.parse(a.body) as { items?: Record<string, unknown>[] }) : null;
  return { status: a.status, items: body?.items?.map(({ resultId: _id, lastUpdated: _t, ...rest }) => rest) };
}
const answers = (mrn: string) => Promise.all([ask(scene.legacy.base, `/api/results?mrn=${mrn}`), ask(scene.results.url, `/api/results?mrn=${mrn}`)]);

/** both sides alike: from the message alone, then byte for byte after CDC */
async function expectAlike(mrn: string): Promise<void> {
  const [legacy, service] = await answers(mrn);
  expect(early(service)).toEqual(early(legacy));
  await scene.cdc.sync();
  await scene.drain();
  const [l, s] = await answers(mrn);
  expect(s).toEqual(l);
}
const resultsOf = async (mrn: string, order: string) =>
  ((JSON.parse((await ask(scene.results.url, `/api/results?mrn=${mrn}`)).body) as { items: Record<string, unknown>[] }).items ?? []).filter((r) => r.orderNumber === order);

describe('OBX-11 U', () => {
  it('makes the preliminary result final as it is, on both sides: value, units, range and flag stay', async () => {
    const mrn = seeded[0]!;
    expect((await toBoth(oru(mrn, 'US00001', '20241201070000', potassium('6.2', 'H', 'P')))).code).toBe('AA');
    await expectAlike(mrn);
    expect((await toBoth(oru(mrn, 'US00001', '20241201090000', potassium('', '', 'U')))).code).toBe('AA');
    expect(await resultsOf(mrn, 'US00001')).toEqual([
      expect.objectContaining({ value: '6.2', units: 'mmol/L', referenceRange: '3.5-5.1', abnormalFlag: 'H', status: 'F', resultDate: '2024-12-01T09:00:00' }),
    ]);
    await expectAlike(mrn);
    // its earlier version is kept
    const { rows } = await scene.results.pool.query(
      `SELECT v.value, v.status FROM lab_result_version v JOIN lab_result r ON r.id = v.result_id WHERE r.order_number = 'US00001' ORDER BY v.id`,
    );
    expect(rows).toContainEqual({ value: '6.2', status: 'P' });
  });

  it('of two organisms of one culture makes both final, each keeping its organism', async () => {
    const mrn = seeded[1]!;
    const culture = (organisms: string[], status: string) =>
      oru(mrn, 'US00002', '20241201080000', ...organisms.map((o, i) => obx(i + 1, 'ST', '600-7^BLOOD CULTURE^LN', o, '', '', o ? 'A' : '', status)));
    expect((await toBoth(culture(['ESCHERICHIA COLI', 'KLEBSIELLA'], 'P'))).code).toBe('AA');
    await expectAlike(mrn);
    expect((await toBoth(culture(['', ''], 'U'))).code).toBe('AA');
    await expectAlike(mrn);
    expect((await resultsOf(mrn, 'US00002')).map((r) => [r.value, r.status]).sort()).toEqual([
      ['ESCHERICHIA COLI', 'F'],
      ['KLEBSIELLA', 'F'],
    ]);
  });

  it('for a result never sent: refused on both sides (legacy AE 204, a dead letter of results-service), nothing stored; with a value it is the final result', async () => {
    const mrn = seeded[2]!;
    const ack = await toBoth(oru(mrn, 'US00003', '20241201080000', potassium('', '', 'U')));
    expect(ack).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'OBX^1^3^1^1' });
    const dead = (await deadLetters(scene.redis)).filter((d) => d.error.includes('OBX^1^3^1^1'));
    expect(dead).toEqual([expect.objectContaining({ error: expect.stringMatching(/^HL7 204 at OBX\^1\^3\^1\^1: OBX-11 is U/) as unknown })]);
    expect(await resultsOf(mrn, 'US00003')).toEqual([]);
    await expectAlike(mrn);
    expect((await toBoth(oru(mrn, 'US00003', '20241201080000', potassium('4.4', '', 'U')))).code).toBe('AA');
    expect(await resultsOf(mrn, 'US00003')).toEqual([expect.objectContaining({ value: '4.4', status: 'F' })]);
    await expectAlike(mrn);
  });
});

describe('every status of table 0085, one after another on one result: both sides alike after each', () => {
  it.each([
    ['P', '5.9', 'H', 1, 'preliminary: a new result'],
    ['R', '6.0', 'H', 1, 'entered, not verified: preliminary, replaces the preliminary'],
    ['S', '6.1', 'H', 1, 'partial: preliminary, replaces the preliminary'],
    ['I', '', '', 1, 'specimen in lab: no result, nothing changes'],
    ['F', '6.3', 'H', 1, 'final: replaces the preliminary'],
    ['U', '', '', 1, 'already final: nothing changes'],
    ['P', '9.9', 'HH', 2, 'preliminary after the final: a new result beside it (F is changed only by a correction)'],
    ['C', '5.0', '', 2, 'corrected: replaces the newest'],
    ['A', '5.1', '', 2, 'amended (v2.8): a correction'],
    ['O', '', '', 2, 'order detail: nothing changes'],
    ['N', '', '', 2, 'not asked: nothing changes'],
    ['X', '', '', 2, 'cannot be obtained: no result, nothing changes'],
    ['D', '', '', 0, 'deleted: every result of the order and test withdrawn'],
    ['P', '4.0', '', 1, 'preliminary again: a new result'],
    ['W', '', '', 0, 'wrong: withdrawn'],
  ] as const)('%s (%s %s, then %i results): %s', async (status, value, flag, count, _what) => {
    const mrn = seeded[3]!;
    expect((await toBoth(oru(mrn, 'US00004', '20241201100000', potassium(value, flag, status)))).code).toBe('AA');
    await expectAlike(mrn);
    const results = await resultsOf(mrn, 'US00004');
    expect(results).toHaveLength(count);
    // no status erases a value: every result held shows one
    expect(results.filter((r) => r.value === null)).toEqual([]);
  });
});
