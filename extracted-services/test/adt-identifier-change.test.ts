/**
 * ADT^A47 (change patient identifier list: an MRN corrected) in patient-service, beside the
 * legacy inbound, in every regime on the real path: the legacy's HL7 inbound over MLLP,
 * patient-service's queue as the HL7 adapter fills it, the legacy's CDC, the outbox and the CDC
 * deployable's legacy writer (the shipped mapping), and last the real HL7 adapter under the
 * shipped rule `adt-patient-events` in mode `new`.
 *
 * Both sides make of it what the legacy's keys make of it: the record of MRG-1 re-registered
 * under PID-3's MRN and merged into it as an A40 merges. `legacy`: the legacy's CDC brings the
 * new record, the moved stays, the closed one and the merge. `dual`: both end alike, early and
 * once the legacy's CDC came (in either order), refusals in the same words. `new`: the legacy
 * gets all of it by write-back, recorded as its own A40 records a merge.
 *
 * Until 7 December both sides refused A47 (AR 201 from the legacy, HL7 201 dead letters in
 * patient-service) and the shipped rule left it to the legacy.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hl7, MllpClient, msh, sample, uniqueControlId } from '../../examples/legacy-his/test/support/mllp-client.js';
import { pid, pv1 } from '../../examples/legacy-his/test/support/adt-messages.js';
import { hl7Rules, startAdapterUnderTest } from '../../legacy-adapters/hl7-adapter/test/support/adapter-harness.js';
import { ask, type ServiceScene } from '../../test-support/service-scene.js';
import { dualHl7, startDualScene, type DualScene } from './support/dual-hl7.js';

const SHIPPED_HL7_RULES = fileURLToPath(new URL('../../routing-rules/20-hl7.yaml', import.meta.url));

let dual: DualScene;
let scene: ServiceScene;

beforeAll(async () => {
  dual = await startDualScene({ prefix: 'svc_adt_a47', patients: 10, seed: 7_470 });
  scene = dual.scene;
});
afterAll(async () => {
  await dual?.close();
});

const { adt, toLegacy, toService, toBoth, synced, inModeNew, expectSameEarly, expectSameConfirmed, expectLegacyGotIt, serviceDeadLetters } = dualHl7(() => dual, { structure: 'ADT_A30' });
/** a registration with a visit */
const a04 = (mrn: string, visit: string) =>
  adt('A04', pid(mrn, { 5: 'renumber^rita', 7: '19750310', 8: 'F', 11: '1 OLD ROAD^^SPRINGFIELD^IL^62701', 13: '217-555-0101' }), pv1({ 2: 'O', 3: 'OPD', 19: visit, 44: '202407011030' }));
/** PID-3 the correct MRN, MRG-1 the incorrect one; PID-13 a new phone */
const a47 = (correct: string, incorrect: string, pidFields: Record<number, string> = { 13: '217-555-0199' }) => adt('A47', pid(correct, pidFields), `MRG|${incorrect}^^^GENHOSP^MR`);

type Patient = { mrn: string; active: boolean; phone: string | null; created: string };
type Stay = { admissionId: number; mrn: string; ward: { code: string } };
const patientAt = async (base: string, mrn: string) => {
  const a = await ask(base, `/api/patients/${mrn}`);
  return a.status === 200 ? (JSON.parse(a.body) as Patient) : a.status;
};
const stays = async (base: string, mrn: string) => (JSON.parse((await ask(base, `/api/encounters?mrn=${mrn}`)).body) as { items: Stay[] }).items;
const serviceMerges = async (merged: string) =>
  (await scene.patients.pool.query<{ survivor_mrn: string; provisional: boolean }>('SELECT survivor_mrn, provisional FROM patient_merge WHERE merged_mrn = $1', [merged])).rows;
const legacyMerges = async (merged: string) =>
  (await scene.legacy.pool.query<{ survivor_mrn: string; adm_cnt: number; result_cnt: number }>('SELECT SURVIVOR_MRN, ADM_CNT, RESULT_CNT FROM PATIENT_MERGE WHERE MERGED_MRN = $1', [merged])).rows;
/** who the FHIR Patient of an MRN links to */
const fhirLinks = async (mrn: string) =>
  (JSON.parse((await ask(scene.patients.url, `/fhir/Patient/${mrn}`)).body) as { link?: { type: string; other: { reference: string } }[] }).link?.map((l) => `${l.type} ${l.other.reference}`);

describe('mode legacy: the legacy applies it, its CDC brings it', () => {
  it('the new record, the stay moved, the old record closed and the merge reach the service', async () => {
    const [wrong, right] = ['7470001', '7470011'];
    await toLegacy(a04(wrong, 'V7470001'));
    await synced();
    await toLegacy(a47(right, wrong));
    await expectSameConfirmed(right, wrong);
    expect(await patientAt(scene.patients.url, right)).toMatchObject({ active: true, phone: '217-555-0199' });
    expect(await patientAt(scene.patients.url, wrong)).toMatchObject({ active: false });
    expect((await stays(scene.patients.url, right)).map((s) => s.mrn)).toEqual([right]);
    expect(await serviceMerges(wrong)).toEqual([{ survivor_mrn: right, provisional: false }]);
    expect(await fhirLinks(wrong)).toEqual([expect.stringMatching(new RegExp(`^replaced-by .*Patient/${right}$`))]);
  });
});

describe('mode dual: both sides end alike', () => {
  it('early (the service’s copy from the message alone) and confirmed: one record, one merge, the legacy’s', async () => {
    const [wrong, right] = ['7470002', '7470012'];
    await toBoth(a04(wrong, 'V7470002'));
    await expectSameConfirmed(wrong);
    await toBoth(a47(right, wrong));
    await expectSameEarly(right, wrong);
    expect(await serviceMerges(wrong)).toEqual([{ survivor_mrn: right, provisional: true }]);
    await expectSameConfirmed(right, wrong);
    expect(await serviceMerges(wrong)).toEqual([{ survivor_mrn: right, provisional: false }]);
  });

  it('the legacy’s CDC of the change first, the message after it: stale, not a duplicate MRN', async () => {
    const [wrong, right] = ['7470003', '7470013'];
    await toBoth(a04(wrong, 'V7470003'));
    const message = a47(right, wrong);
    await toLegacy(message);
    await synced();
    await toService(message, true);
    expect(await serviceDeadLetters()).toEqual([]);
    const { rows } = await scene.patients.pool.query<{ outcome: string }>("SELECT outcome FROM ficus_hl7_applied WHERE message_type = 'ADT' AND trigger_event = 'A47' ORDER BY message_id DESC LIMIT 1");
    expect(rows).toEqual([{ outcome: 'stale' }]);
    await expectSameConfirmed(right, wrong);
    expect(await serviceMerges(wrong)).toEqual([{ survivor_mrn: right, provisional: false }]);
  });

  it('what the legacy refuses, the service refuses in the same words (a dead letter), and neither changes anything', async () => {
    const [wrong, taken] = ['7470004', '7470005'];
    await toBoth(a04(wrong, 'V7470004'));
    await toBoth(a04(taken, 'V7470005'));
    await expectSameConfirmed(wrong, taken);
    const refusals = [
      a47(taken, wrong), // PID-3's MRN is a record's: 205, a merge never made silently
      a47('7470014', '7479999'), // MRG-1 unknown: 204
    ];
    for (const message of refusals) {
      const ack = await toBoth(message, 'AE');
      expect(await serviceDeadLetters()).toContainEqual(`HL7 ${ack.errorCodes[0]} at ${ack.errorLocation}: ${ack.message.get('ERR-8')}`);
    }
    expect(await serviceDeadLetters()).toHaveLength(refusals.length);
    await expectSameConfirmed(wrong, taken, '7470014');
    expect(await serviceMerges(wrong)).toEqual([]);
  });

  it('another identifier than the MRN (an account number): changed where the service keeps it, nothing in the legacy', async () => {
    const mrn = '7470006';
    await toBoth(adt('A04', pid(mrn, { 3: `${mrn}^^^GENHOSP^MR~ACC1^^^GENHOSP^AN`, 5: 'other^oscar', 7: '19800101', 8: 'M' })));
    await expectSameConfirmed(mrn);
    await toBoth(adt('A47', pid(mrn, { 3: `${mrn}^^^GENHOSP^MR~ACC2^^^GENHOSP^AN` }), 'MRG|ACC1^^^GENHOSP^AN'));
    const { rows } = await scene.patients.pool.query('SELECT authority, type_code, value FROM patient_identifier WHERE mrn = $1', [mrn]);
    expect(rows).toEqual([{ authority: 'GENHOSP', type_code: 'AN', value: 'ACC2' }]);
    await expectSameConfirmed(mrn);
    expect(await serviceDeadLetters()).toHaveLength(2);
  });
});

describe('mode new: the legacy gets the change by write-back', () => {
  it('the new record, the stay moved, the old record closed, and the merge recorded as the legacy records its own', async () => {
    const [wrong, right] = ['7470020', '7470030'];
    await inModeNew(a04(wrong, 'V7470020'));
    await expectLegacyGotIt(wrong);
    await inModeNew(a47(right, wrong));
    expect(await patientAt(scene.patients.url, right)).toMatchObject({ active: true, phone: '217-555-0199' });
    await expectLegacyGotIt(right, wrong);
    expect((await stays(scene.legacy.base, right)).map((s) => s.mrn)).toEqual([right]);
    await expect.poll(() => legacyMerges(wrong), { timeout: 15_000 }).toEqual([{ survivor_mrn: right, adm_cnt: 1, result_cnt: 0 }]);
    // a PID-3 MRN a record holds: refused in new as well (a dead letter), nothing written back
    const before = await serviceDeadLetters();
    await inModeNew(a47(right, wrong));
    // the letters come queue by queue in no set order: the new one is what the list gained
    const gained = await serviceDeadLetters();
    for (const old of before) {
      const at = gained.indexOf(old);
      if (at >= 0) gained.splice(at, 1);
    }
    expect(gained).toEqual([expect.stringMatching(/^HL7 205 at PID\^1\^3\^1\^1: /)]);
  });
});

describe('through the real HL7 adapter, under the shipped rule adt-patient-events in mode new', () => {
  it('the public sample ADT-A47-01 (its identifiers made MRNs) reaches patient-service, and the legacy by write-back', async () => {
    const [wrong, right] = ['7470102', '7470101'];
    const hl7Files = { ...hl7Rules(`mllp://127.0.0.1:${scene.inbound!.port}`), '20-hl7.yaml': readFileSync(SHIPPED_HL7_RULES, 'utf8').replace(/(id: adt-patient-events[\s\S]*?mode: )legacy/, '$1new') };
    const adapter = await startAdapterUnderTest({ files: hl7Files, env: { REDIS_URL: scene.redisUrl, HL7_PARTITIONS: '8', HL7_QUEUE_PREFIX: 'bull' } });
    const sender = await MllpClient.connect(adapter.adapter.port);
    const lettersBefore = (await serviceDeadLetters()).length;
    try {
      // registered, with a visit, the day before the sample's MSH-7 (1989-08-18 11:26 +02:15)
      const registered = hl7(
        msh('ADT^A04^ADT_A01', uniqueControlId('A04'), { time: '19890817100000' }),
        'EVN|A04|19890817100000',
        pid(wrong, { 5: 'everyman^adam', 7: '19610615', 8: 'M' }),
        pv1({ 2: 'O', 3: 'OPD', 19: 'V7470102', 44: '19890817093000' }),
      );
      const corrected = sample('ADT-A47-01').replace('|MR101^', `|${right}^`).replace('MRG|MR102^', `MRG|${wrong}^`);
      for (const message of [registered, corrected]) expect((await sender.request(message)).code).toBe('AA');
      await expect.poll(async () => patientAt(scene.patients.url, right), { timeout: 15_000 }).toMatchObject({ active: true });
      expect(await patientAt(scene.patients.url, right)).toMatchObject({ mrn: right, phone: '270-600-9800' });
      expect(await patientAt(scene.patients.url, wrong)).toMatchObject({ active: false });
      await expectLegacyGotIt(right, wrong);
      expect((await stays(scene.legacy.base, right)).map((s) => s.mrn)).toEqual([right]);
      await expect.poll(() => legacyMerges(wrong), { timeout: 15_000 }).toEqual([{ survivor_mrn: right, adm_cnt: 1, result_cnt: 0 }]);
      expect(await serviceDeadLetters()).toHaveLength(lettersBefore);
    } finally {
      sender.close();
      await adapter.close();
    }
  });
});
