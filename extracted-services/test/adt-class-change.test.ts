/**
 * ADT^A06 (an outpatient or emergency visit becomes an inpatient stay) and ADT^A07 (the
 * reverse) in patient-service, beside the legacy inbound, in every regime on the real path: the
 * legacy's HL7 inbound over MLLP, patient-service's queue as the HL7 adapter fills it, the
 * legacy's CDC, the outbox and the CDC deployable's legacy writer (the shipped mapping), and
 * last the real HL7 adapter under the shipped rule `adt-patient-events`.
 *
 * `legacy` (the rule sends the message to the legacy only): its CDC brings the change, the
 * visit's new number included. `dual`: both APIs end alike, early (the service's copy from the
 * message alone) and byte for byte once the legacy's CDC came, refusals included (the legacy's
 * ERR, the service's dead letter); an early copy renumbered by MRG-5 meets the legacy's row of
 * the stay in either order. `new`: the legacy gets class, location and number by write-back.
 *
 * Until 7 December both sides refused A06 and A07 (AR 201 from the legacy, HL7 201 dead letters
 * in patient-service) and the shipped rule left them to the legacy.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hl7, MllpClient, msh, sample, uniqueControlId } from '../../examples/legacy-his/test/support/mllp-client.js';
import { mrg, pid, pv1 } from '../../examples/legacy-his/test/support/adt-messages.js';
import { hl7Rules, startAdapterUnderTest } from '../../legacy-adapters/hl7-adapter/test/support/adapter-harness.js';
import { ask, deadLetters, type ServiceScene } from '../../test-support/service-scene.js';
import { dualHl7, startDualScene, type DualScene } from './support/dual-hl7.js';

const SHIPPED_HL7_RULES = fileURLToPath(new URL('../../routing-rules/20-hl7.yaml', import.meta.url));

let dual: DualScene;
let scene: ServiceScene;

beforeAll(async () => {
  dual = await startDualScene({ prefix: 'svc_adt_class', patients: 10, seed: 7_760 });
  scene = dual.scene;
});
afterAll(async () => {
  await dual?.close();
});

const { adt, a03, toLegacy, toService, toBoth, synced, inModeNew, expectSameEarly, expectSameConfirmed, legacyVisits, serviceDeadLetters } = dualHl7(() => dual);
/** an emergency department visit */
const a04 = (mrn: string, visit: string, arrived = '202407011030') => adt('A04', pid(mrn, { 5: 'class^chris', 7: '19750310', 8: 'M' }), pv1({ 2: 'E', 3: 'ED^^4', 7: 'EDDOC', 19: visit, 44: arrived }));

type Stay = { admissionId: number; status: string; admitDate: string; admissionType: string; ward: { code: string }; bed: string | null; attendingDoctorId: string | null };
const stays = async (base: string, mrn: string) => (JSON.parse((await ask(base, `/api/encounters?mrn=${mrn}`)).body) as { items: Stay[] }).items;
const serviceVisits = async (mrn: string) =>
  (await scene.patients.pool.query<{ visit_number: string; provisional: boolean }>('SELECT visit_number, provisional FROM encounter WHERE mrn = $1 ORDER BY visit_number', [mrn])).rows;
/** the FHIR Encounter classes (v3 ActCode) of the patient's stays */
const fhirClasses = async (mrn: string) =>
  (JSON.parse((await ask(scene.patients.url, `/fhir/Encounter?patient=${mrn}`)).body) as { entry?: { resource: { class: { code: string } } }[] }).entry?.map((e) => e.resource.class.code);

describe('mode legacy: the legacy applies it, its CDC brings it', () => {
  it('A06 with MRG-5: the visit is an inpatient stay under its new number in the service too, moved (a transfer seen through CDC)', async () => {
    const mrn = '7760001';
    await toLegacy(a04(mrn, 'ER7760001'));
    await synced();
    await toLegacy(adt('A06', pid(mrn), mrg('ER7760001'), pv1({ 2: 'I', 3: 'MED1^^12', 7: 'WARDDOC', 19: 'IP7760001' })));
    await expectSameConfirmed(mrn);
    expect(await stays(scene.patients.url, mrn)).toEqual([expect.objectContaining({ admissionType: 'I', ward: expect.objectContaining({ code: 'MED1' }), bed: '12', attendingDoctorId: 'WARDDOC' })]);
    expect(await serviceVisits(mrn)).toEqual([{ visit_number: 'IP7760001', provisional: false }]);
  });
});

describe('mode dual: both sides end alike', () => {
  it('A06 makes the emergency visit of PV1-19 an inpatient stay and A07 an outpatient visit again, early and confirmed', async () => {
    const mrn = '7760002';
    await toBoth(a04(mrn, 'V7760002'));
    await expectSameConfirmed(mrn);
    await toBoth(adt('A06', pid(mrn), pv1({ 2: 'I', 3: 'MED1^^12', 7: 'WARDDOC', 19: 'V7760002' })));
    await expectSameEarly(mrn);
    expect(await fhirClasses(mrn)).toEqual(['IMP']);
    await expectSameConfirmed(mrn);
    expect(await stays(scene.patients.url, mrn)).toEqual([
      expect.objectContaining({ admissionType: 'I', ward: expect.objectContaining({ code: 'MED1' }), bed: '12', attendingDoctorId: 'WARDDOC', admitDate: '2024-07-01T10:30:00' }),
    ]);
    await toBoth(adt('A07', pid(mrn), pv1({ 2: 'O', 3: 'OPD', 44: '202407021000' })));
    await expectSameEarly(mrn);
    await expectSameConfirmed(mrn);
    expect(await stays(scene.patients.url, mrn)).toEqual([expect.objectContaining({ admissionType: 'O', ward: expect.objectContaining({ code: 'OPD' }), bed: null, admitDate: '2024-07-02T10:00:00' })]);
    expect(await fhirClasses(mrn)).toEqual(['AMB']);
  });

  it('A06 with MRG-5 renumbers an early copy before the legacy’s CDC of the visit came: one stay, the legacy’s', async () => {
    const mrn = '7760003';
    await toBoth(a04(mrn, 'ER7760003'));
    await toBoth(adt('A06', pid(mrn), mrg('ER7760003'), pv1({ 2: 'I', 3: 'SURG^^2', 19: 'IP7760003' })));
    await expectSameEarly(mrn);
    await expectSameConfirmed(mrn);
    expect(await serviceVisits(mrn)).toEqual([{ visit_number: 'IP7760003', provisional: false }]);
  });

  it('the legacy’s row of the visit through CDC under its old number, after the service renumbered its early copy: the renumbering drops the copy', async () => {
    const mrn = '7760004';
    await toBoth(a04(mrn, 'ER7760004'));
    const a06 = adt('A06', pid(mrn), mrg('ER7760004'), pv1({ 2: 'I', 3: 'SURG^^3', 19: 'IP7760004' }));
    // the service takes the A06 first; the legacy's CDC then brings the visit as the A04 left it
    await toService(a06, true);
    await synced();
    await toLegacy(a06);
    await expectSameConfirmed(mrn);
    expect(await serviceVisits(mrn)).toEqual([{ visit_number: 'IP7760004', provisional: false }]);
    expect(await legacyVisits(mrn)).toEqual(['IP7760004']);
  });

  it('what the legacy refuses, the service refuses in the same words (a dead letter), and neither changes anything', async () => {
    const mrn = '7760005';
    await toBoth(a04(mrn, 'V7760005A', '202406010800'));
    await toBoth(a03(mrn, 'V7760005A', '202406011000'));
    await toBoth(a04(mrn, 'V7760005B', '202406020800'));
    await expectSameConfirmed(mrn);
    const refusals = [
      adt('A06', pid(mrn), pv1({ 2: 'I', 19: 'V7760005A' })), // discharged: 207
      adt('A07', pid(mrn), pv1({ 2: 'I', 19: 'V7760005B' })), // an inpatient class for A07: 102
      adt('A06', pid(mrn), mrg('V7769999'), pv1({ 2: 'I', 19: 'V7769998' })), // MRG-5 no stay: 204
      adt('A06', pid(mrn), mrg('V7760005B'), pv1({ 2: 'I', 19: 'V7760005A' })), // PV1-19 another stay's: 205
    ];
    for (const message of refusals) {
      const ack = await toBoth(message, 'AE');
      expect(await serviceDeadLetters()).toContainEqual(`HL7 ${ack.errorCodes[0]} at ${ack.errorLocation}: ${ack.message.get('ERR-8')}`);
    }
    expect((await deadLetters(scene.redis)).length).toBe(refusals.length);
    await expectSameConfirmed(mrn);
    expect((await stays(scene.patients.url, mrn)).map((s) => s.admissionType)).toEqual(['E', 'E']);
  });
});

/** the legacy's API answers the patient's stays (the stays alone) as the service does, but for the stamps the legacy writes itself */
async function expectLegacyGotIt(mrn: string): Promise<void> {
  const strip = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (k, x: unknown) => (k === 'lastUpdated' ? undefined : x)));
  const service = strip(await stays(scene.patients.url, mrn));
  await expect.poll(async () => strip(await stays(scene.legacy.base, mrn)), { timeout: 15_000 }).toEqual(service);
}

describe('mode new: the legacy gets the change by write-back', () => {
  it('A06 with MRG-5 and A07: class, ward, bed, doctor and the new visit number reach the legacy', async () => {
    const mrn = '7760010';
    await inModeNew(a04(mrn, 'ER7760010'));
    await expectLegacyGotIt(mrn);
    await inModeNew(adt('A06', pid(mrn), mrg('ER7760010'), pv1({ 2: 'I', 4: 'E', 3: 'ICU^^1', 7: 'ICUDOC', 19: 'IP7760010' })));
    expect(await stays(scene.patients.url, mrn)).toEqual([expect.objectContaining({ admissionType: 'E', ward: expect.objectContaining({ code: 'ICU' }), bed: '1', attendingDoctorId: 'ICUDOC' })]);
    await expectLegacyGotIt(mrn);
    expect(await legacyVisits(mrn)).toEqual(['IP7760010']);
    await inModeNew(adt('A07', pid(mrn), pv1({ 2: 'O', 3: 'OPD', 19: 'IP7760010' })));
    await expectLegacyGotIt(mrn);
    expect(await stays(scene.legacy.base, mrn)).toEqual([expect.objectContaining({ admissionType: 'O', ward: expect.objectContaining({ code: 'OPD' }), bed: null })]);
  });
});

describe('through the real HL7 adapter, under the shipped rule adt-patient-events in mode new', () => {
  it('the public samples ADT-A06-01 and ADT-A07-01 reach patient-service, and the legacy by write-back', async () => {
    const mrn = '7760020';
    const hl7Files = { ...hl7Rules(`mllp://127.0.0.1:${scene.inbound!.port}`), '20-hl7.yaml': readFileSync(SHIPPED_HL7_RULES, 'utf8').replace(/(id: adt-patient-events[\s\S]*?mode: )legacy/, '$1new') };
    const adapter = await startAdapterUnderTest({ files: hl7Files, env: { REDIS_URL: scene.redisUrl, HL7_PARTITIONS: '8', HL7_QUEUE_PREFIX: 'bull' } });
    const sender = await MllpClient.connect(adapter.adapter.port);
    const lettersBefore = (await serviceDeadLetters()).length;
    try {
      const fromSample = (name: string, controlId: string) => sample(name).replace('|PATID1234^', `|${mrn}^`).replace(/\|MSG0000[67]\|/, `|${controlId}|`);
      // the emergency visit 5001, registered the day before the samples' MSH-7 (2021-01-15 16:20 +02:15)
      const registered = hl7(
        msh('ADT^A04^ADT_A01', uniqueControlId('A04'), { time: '20210114100000' }),
        'EVN|A04|20210114100000',
        pid(mrn, { 5: 'everyman^adam', 7: '19610615', 8: 'M' }),
        pv1({ 2: 'E', 3: 'ED^^4', 19: '5001', 44: '20210114093000' }),
      );
      for (const message of [registered, fromSample('ADT-A06-01', 'A06-E2E-1')]) expect((await sender.request(message)).code).toBe('AA');
      await expect.poll(async () => (await stays(scene.patients.url, mrn)).map((s) => s.admissionType), { timeout: 15_000 }).toEqual(['I']);
      await expectLegacyGotIt(mrn);
      expect(await stays(scene.legacy.base, mrn)).toEqual([expect.objectContaining({ admissionType: 'I', ward: expect.objectContaining({ code: 'UNK' }), bed: 'BED-1', attendingDoctorId: '0210' })]);

      expect((await sender.request(fromSample('ADT-A07-01', 'A07-E2E-1'))).code).toBe('AA');
      await expect.poll(async () => (await stays(scene.patients.url, mrn)).map((s) => s.admissionType), { timeout: 15_000 }).toEqual(['O']);
      await expectLegacyGotIt(mrn);
      expect(await stays(scene.legacy.base, mrn)).toEqual([expect.objectContaining({ admissionType: 'O', ward: expect.objectContaining({ code: 'OPD' }), bed: '01' })]);
      expect(await legacyVisits(mrn)).toEqual(['5001']);
      expect(await serviceDeadLetters()).toHaveLength(lettersBefore);
    } finally {
      sender.close();
      await adapter.close();
    }
  });
});
