/**
 * Twins: two or more OBX of one order with the same test code (two organisms of one culture).
 * The legacy keeps one LAB_RESULT row per OBX; in mode dual results-service makes its early
 * copies from HL7 first, and each legacy row coming through CDC (each in the partition of its
 * own id, so in any order and side by side) must take exactly one early copy: never two early
 * copies to one legacy id (the primary key refused the second, 2026-12 probe: dead letters,
 * provisional ids kept for ever), never a legacy row dropping an early copy that is waiting for
 * its own twin. Real PostgreSQL and Redis, the legacy's HL7 inbound over MLLP, the real feed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ask, deadLetters, hl7Time, startServiceScene, type ServiceScene } from '../../../../test-support/service-scene.js';
import { TOPIC_QUERIES } from '../../../../test-support/legacy-cdc.js';
import { hl7, MllpClient, msh, segment, uniqueControlId } from '../../../../examples/legacy-his/test/support/mllp-client.js';

let scene: ServiceScene;
let client: MllpClient;
let seeded: string[];

beforeAll(async () => {
  scene = await startServiceScene({ prefix: 'rs_twins', redisDb: 3, patients: 30, seed: 3_303, hl7Inbound: true });
  await scene.cdc.snapshot();
  await scene.drain();
  client = await MllpClient.connect(scene.inbound!.port);
  const { rows } = await scene.legacy.pool.query<{ pat_mrn: string }>(`SELECT PAT_MRN FROM PATIENT_MASTER WHERE ACTIVE_FLG = 'Y' ORDER BY PAT_MRN LIMIT 12`);
  seeded = rows.map((r) => r.pat_mrn);
});
afterAll(async () => {
  client?.close();
  await scene?.close();
});

/** MSH-7 a minute ahead of the legacy's commits (see hl7-parity.test.ts) */
const sent = () => hl7Time(new Date(Date.now() + 60_000));
const pid = (mrn: string) => segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR` });
const CULTURE = '600-7^BLOOD CULTURE^LN';
/** an ORU of one culture order: one OBX per organism, all of test 600-7 */
const culture = (mrn: string, order: string, status: string, organisms: string[]) =>
  hl7(
    msh('ORU^R01^ORU_R01', uniqueControlId('ORU'), { application: 'LABSYS', facility: 'CORELAB', time: sent() }),
    pid(mrn),
    segment('OBR', { 1: '1', 2: `P${order}`, 3: order, 4: 'CULT^BLOOD CULTURE', 7: '20241101090000', 22: '20241102101500' }),
    ...organisms.map((o, i) => segment('OBX', { 1: String(i + 1), 2: 'ST', 3: CULTURE, 4: String(i + 1), 5: o, 8: 'A', 11: status })),
  );
const a40 = (survivor: string, merged: string) =>
  hl7(msh('ADT^A40^ADT_A39', uniqueControlId('A40'), { time: sent() }), `EVN|A40|${sent()}`, pid(survivor), segment('MRG', { 1: `${merged}^^^GENHOSP^MR` }));
const newOrder = (p: string) => `${p}${Date.now() % 10_000_000}`;

async function toLegacy(message: string): Promise<void> {
  const ack = await client.request(message);
  expect(ack.code, `legacy ACK ${ack.errorCodes.join(',')}`).toBe('AA');
}
async function toService(message: string): Promise<void> {
  await scene.sendHl7('results-service', message);
  await scene.drain();
}
/** mode dual, the service's copy first */
async function toBoth(message: string): Promise<void> {
  await toService(message);
  await toLegacy(message);
}
async function settle(): Promise<void> {
  await scene.cdc.sync();
  await scene.drain();
}

interface Copy {
  id: string;
  provisional: boolean;
  value: string | null;
  status: string;
}
const serviceRows = async (order: string) =>
  (await scene.results.pool.query<Copy>('SELECT id::text, provisional, value, status FROM lab_result WHERE order_number = $1 ORDER BY id', [order])).rows;
const legacyRows = async (order: string) =>
  (
    await scene.legacy.pool.query<Copy>(
      'SELECT RESULT_ID::text AS id, false AS provisional, RESULT_VAL AS value, RESULT_STAT_CD AS status FROM LAB_RESULT WHERE ORDER_NO = $1 ORDER BY RESULT_ID',
      [order],
    )
  ).rows;

/** the dead letters of the scene that carry this order's rows */
const deadFor = async (order: string) => (await deadLetters(scene.redis)).filter((d) => JSON.stringify(d.data).includes(`"${order}"`));

/** one copy per legacy row under the legacy's id, no dead letter, both APIs byte for byte */
async function expectAsLegacy(order: string, ...mrns: string[]): Promise<void> {
  expect(await deadFor(order)).toEqual([]);
  const legacy = await legacyRows(order);
  expect(legacy.length).toBeGreaterThan(0);
  expect(await serviceRows(order)).toEqual(legacy);
  for (const mrn of mrns) {
    const [l, s] = await Promise.all([ask(scene.legacy.base, `/api/results?mrn=${mrn}`), ask(scene.results.url, `/api/results?mrn=${mrn}`)]);
    expect(s).toEqual(l);
  }
}

/** publishes the legacy's current row of each id through CDC, one id at a time, in the order given */
async function publishOneByOne(ids: string[]): Promise<void> {
  const q = TOPIC_QUERIES['lab-results']!;
  const { rows } = await scene.legacy.pool.query<Record<string, unknown>>(q.sql);
  for (const id of ids) {
    const row = rows.find((r) => r.resultId === id)!;
    await scene.cdc.publish([scene.cdc.event('lab-results', 'create', { resultId: id }, null, row)]);
    await scene.drain();
  }
}

describe('twins of one order in mode dual, the early copies first', () => {
  it('two organisms: each legacy row takes one early copy; then the final and a correction of one twin', async () => {
    const mrn = seeded[0]!;
    const order = newOrder('TW');
    await toBoth(culture(mrn, order, 'P', ['ESCHERICHIA COLI', 'KLEBSIELLA']));
    expect((await serviceRows(order)).map((r) => r.provisional)).toEqual([true, true]);
    await settle();
    await expectAsLegacy(order, mrn);
    await toBoth(culture(mrn, order, 'F', ['ESCHERICHIA COLI', 'KLEBSIELLA']));
    await settle();
    await expectAsLegacy(order, mrn);
    expect((await serviceRows(order)).map((r) => r.status)).toEqual(['F', 'F']);
    await toBoth(culture(mrn, order, 'C', ['KLEBSIELLA PNEUMONIAE']));
    await settle();
    await expectAsLegacy(order, mrn);
    expect((await serviceRows(order)).map((r) => r.status).sort()).toEqual(['C', 'F']);
  });

  it('three organisms', async () => {
    const mrn = seeded[1]!;
    const order = newOrder('TR');
    await toBoth(culture(mrn, order, 'F', ['ESCHERICHIA COLI', 'KLEBSIELLA', 'ENTEROCOCCUS']));
    await settle();
    await expectAsLegacy(order, mrn);
    expect(await serviceRows(order)).toHaveLength(3);
  });

  it('the legacy holds three (a third added on a legacy screen), the service two early copies: the third is added', async () => {
    const mrn = seeded[2]!;
    const order = newOrder('TU');
    await toBoth(culture(mrn, order, 'F', ['ESCHERICHIA COLI', 'KLEBSIELLA']));
    await scene.legacy.pool.query(
      `INSERT INTO LAB_RESULT (PAT_MRN, ORDER_NO, TEST_CD, TEST_NM, RESULT_VAL, ABN_FLAG, RESULT_STAT_CD, COLLECT_DT, RESULT_DT)
       SELECT PAT_MRN, ORDER_NO, TEST_CD, TEST_NM, 'PROTEUS', ABN_FLAG, 'F', COLLECT_DT, RESULT_DT FROM LAB_RESULT WHERE ORDER_NO = $1 ORDER BY RESULT_ID LIMIT 1`,
      [order],
    );
    await settle();
    await expectAsLegacy(order, mrn);
    expect(await serviceRows(order)).toHaveLength(3);
  });

  it('the legacy rows arrive one at a time, the second first: each takes its own early copy, the other waits for its twin', async () => {
    const mrn = seeded[3]!;
    const order = newOrder('TO');
    await toBoth(culture(mrn, order, 'P', ['ESCHERICHIA COLI', 'KLEBSIELLA']));
    const early = await serviceRows(order);
    const [first, second] = (await legacyRows(order)).map((r) => r.id) as [string, string];
    await publishOneByOne([second]);
    // the legacy's second row (KLEBSIELLA) took the early copy of KLEBSIELLA; ESCHERICHIA COLI's early copy is kept, waiting
    expect(await serviceRows(order)).toEqual([
      { ...early[0]!, provisional: true },
      { id: second, provisional: false, value: 'KLEBSIELLA', status: 'P' },
    ]);
    expect(await deadFor(order)).toEqual([]);
    await publishOneByOne([first]);
    await settle();
    await expectAsLegacy(order, mrn);
  });

  it('legacy rows filed under a patient the legacy merges afterwards each drop one early copy of the survivor', async () => {
    const [survivor, merged] = [seeded[4]!, seeded[5]!];
    const order = newOrder('TM');
    const merge = a40(survivor, merged);
    // patient-service merged first: results-service files the twins under the survivor
    await scene.sendHl7('patient-service', merge);
    await scene.drain();
    const result = culture(merged, order, 'F', ['ESCHERICHIA COLI', 'KLEBSIELLA']);
    await toService(result);
    expect((await serviceRows(order)).map((r) => r.provisional)).toEqual([true, true]);
    // the legacy files them under the merged patient, then merges
    await toLegacy(result);
    await settle();
    await toLegacy(merge);
    await settle();
    await expectAsLegacy(order, survivor, merged);
  });
});
