/**
 * ADT^A13 (cancel discharge), ADT^A28 (add person information), ADT^A31 (update person
 * information) and ADT^A11 (cancel admit) in patient-service, beside the legacy inbound, on the real path: the legacy's HL7 inbound over
 * MLLP, patient-service's queue as the HL7 adapter fills it, the legacy's CDC, the outbox and the
 * CDC deployable's legacy writer (the shipped mapping).
 *
 * In mode `dual` (the message to both, `legacyToo`) both APIs end alike, as hl7-parity.test.ts
 * checks it: early (the service's copy from the message alone), then byte for byte once the
 * legacy's CDC came. In mode `new` (`legacyToo: false`) the legacy gets the change by write-back,
 * except A11, which patient-service refuses there (a dead letter): the stay's withdrawal would be
 * a delete the legacy refuses while results are filed under the stay. And in `dual` a copy the
 * legacy's CDC overtook (A13, A11, and an A03 between them) is stale before any refusal.
 *
 * Before 7 December patient-service had no handler for any of the four (a dead letter, HL7 201)
 * and the shipped rule sent them to the legacy only, which refused them too (AR 201).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hl7, msh, segment, uniqueControlId } from '../../examples/legacy-his/test/support/mllp-client.js';
import { pid, pv1 } from '../../examples/legacy-his/test/support/adt-messages.js';
import { ask, type ServiceScene } from '../../test-support/service-scene.js';
import { ago, dualHl7, startDualScene, type DualScene } from './support/dual-hl7.js';

let dual: DualScene;
let scene: ServiceScene;
let seeded: string[];

beforeAll(async () => {
  dual = await startDualScene({ prefix: 'svc_adt_cancels', patients: 20, seed: 7_750 });
  scene = dual.scene;
  const { rows } = await scene.legacy.pool.query<{ pat_mrn: string }>(`SELECT PAT_MRN FROM PATIENT_MASTER WHERE ACTIVE_FLG = 'Y' ORDER BY PAT_MRN LIMIT 4`);
  seeded = rows.map((r) => r.pat_mrn);
});
afterAll(async () => {
  await dual?.close();
});

const { next, adt, adtAt, a03, toLegacy, toBoth, synced: legacyChanges, lateCopy, inModeNew, expectSameEarly, expectSameConfirmed, expectLegacyGotIt, legacyVisits, serviceDeadLetters } = dualHl7(() => dual, {
  legacyStamps: ['lastUpdated', 'lastUpdatedBy', 'created'],
});
const a01 = (mrn: string, visit: string, admitted = '202407011030') => adt('A01', pid(mrn, { 5: 'cancel^carla', 7: '19800215', 8: 'F' }), pv1({ 2: 'I', 3: 'MED1^^3', 19: visit, 44: admitted }));

type Stay = { admissionId: number; status: string; dischargeDate: string | null; dischargeDisposition: string | null; ward: { code: string }; bed: string | null };
const stays = async (base: string, mrn: string) => (JSON.parse((await ask(base, `/api/encounters?mrn=${mrn}`)).body) as { items: Stay[] }).items;
/** the service's stay of a visit number (the API shows none), by its id */
async function serviceStayId(visit: string): Promise<string | undefined> {
  return (await scene.patients.pool.query<{ id: string }>('SELECT id FROM encounter WHERE visit_number = $1', [visit])).rows[0]?.id;
}

describe('mode dual: both sides end alike', () => {
  it('A13 opens the stay of PV1-19 again, and without PV1-19 the stay discharged last', async () => {
    const [mrn, other] = ['7750001', '7750002'];
    await toBoth(a01(mrn, 'V7750001'));
    await toBoth(a03(mrn, 'V7750001', '202407031200'));
    await toBoth(a01(other, 'V7750002A', '202406010800'));
    await toBoth(a01(other, 'V7750002B', '202406100800'));
    await toBoth(a03(other, 'V7750002B', '202406120900'));
    await toBoth(a03(other, 'V7750002A', '202406150900'));
    await expectSameConfirmed(mrn, other);

    await toBoth(adt('A13', pid(mrn), pv1({ 2: 'I', 19: 'V7750001' })));
    await toBoth(adt('A13', pid(other), pv1({ 2: 'I' })));
    await expectSameEarly(mrn, other);
    await expectSameConfirmed(mrn, other);
    expect((await stays(scene.patients.url, mrn)).map((s) => [s.status, s.dischargeDate, s.dischargeDisposition])).toEqual([['ADMITTED', null, null]]);
    expect((await stays(scene.patients.url, other)).map((s) => s.status).sort()).toEqual(['ADMITTED', 'DISCHARGED']);
  });

  it('A13 of a stay that is not discharged is refused alike: the legacy AE 207, the service a dead letter with the same error; nothing changes', async () => {
    const mrn = '7750001';
    const ack = await toBoth(adt('A13', pid(mrn), pv1({ 19: 'V7750001' })), 'AE');
    expect(ack.errorCodes).toEqual(['207']);
    expect(await serviceDeadLetters()).toContainEqual('HL7 207 at PV1^1^19^1^1: the stay of PV1-19 is not discharged: there is no discharge to cancel');
    await expectSameConfirmed(mrn);
  });

  it('A31 updates the demographics as A08 does and touches no stay, whatever its PV1 says', async () => {
    const mrn = '7750001';
    const before = await stays(scene.patients.url, mrn);
    await toBoth(adt('A31', pid(mrn, { 5: 'renamed^carla^m', 13: '""', 16: 'M' }), pv1({ 2: 'O', 3: 'ICU^^9', 19: 'V7750001', 36: '01', 45: '202407091200' })));
    await toBoth(adt('A31', pid(seeded[0]!, { 5: 'person^from^mpi', 8: 'X' })));
    await expectSameEarly(mrn, seeded[0]!);
    await expectSameConfirmed(mrn, seeded[0]!);
    expect(JSON.parse((await ask(scene.patients.url, `/api/patients/${mrn}`)).body)).toMatchObject({ lastName: 'RENAMED', firstName: 'CARLA', middleName: 'M', phone: null, maritalStatus: 'M' });
    expect(await stays(scene.patients.url, mrn)).toEqual(before);
  });

  it('A28 registers the person (or updates a known one) and makes no stay, whatever its PV1 says', async () => {
    const mrn = '7750005';
    await toBoth(adt('A28', pid(mrn, { 5: 'person^new^q', 7: '19910304', 8: 'F', 13: '(217)555-0199' }), pv1({ 2: 'I', 3: 'ICU^^9', 19: 'V7750005', 44: '202407011030' })));
    await toBoth(adt('A28', pid(seeded[1]!, { 5: 'person^again', 13: '""' })));
    await expectSameEarly(mrn, seeded[1]!);
    await expectSameConfirmed(mrn, seeded[1]!);
    expect(JSON.parse((await ask(scene.patients.url, `/api/patients/${mrn}`)).body)).toMatchObject({ lastName: 'PERSON', firstName: 'NEW', middleName: 'Q', dateOfBirth: '1991-03-04', sex: 'F' });
    expect(await stays(scene.patients.url, mrn)).toEqual([]);
    expect(JSON.parse((await ask(scene.patients.url, `/api/patients/${seeded[1]!}`)).body)).toMatchObject({ lastName: 'PERSON', firstName: 'AGAIN', phone: null });
  });

  it('A11 withdraws the stay: an early copy at once, a stay the legacy confirmed with the legacy’s delete (CDC)', async () => {
    const mrn = '7750003';
    await toBoth(a01(mrn, 'V7750003A', '202406010800'));
    await toBoth(a01(mrn, 'V7750003B', '202407010800'));
    await expectSameConfirmed(mrn);
    // a stay the legacy holds: its decision (only it knows the results filed under it) comes through CDC
    await toBoth(adt('A11', pid(mrn), pv1({ 2: 'I', 19: 'V7750003B' })));
    expect(await serviceStayId('V7750003B')).toBeDefined();
    await expectSameConfirmed(mrn);
    expect(await serviceStayId('V7750003B')).toBeUndefined();
    expect(await legacyVisits(mrn)).toEqual(['V7750003A']);

    // admitted and cancelled before the legacy's CDC: the early copy goes at once, and the legacy's insert and delete leave nothing behind
    await toBoth(a01(mrn, 'V7750003C', '202407020800'));
    await toBoth(adt('A11', pid(mrn), pv1({ 2: 'I', 19: 'V7750003C' })));
    expect(await serviceStayId('V7750003C')).toBeUndefined();
    await expectSameEarly(mrn);
    await expectSameConfirmed(mrn);
    expect(await legacyVisits(mrn)).toEqual(['V7750003A']);
  });

  it('A11 of a stay results are filed under: the legacy refuses it (AE 207), and the stay stays on both', async () => {
    const mrn = '7750003';
    const oru = hl7(
      msh('ORU^R01^ORU_R01', uniqueControlId('ORU'), { application: 'LABSYS', facility: 'CORELAB', time: next() }),
      `PID|1||${mrn}`,
      pv1({ 19: 'V7750003A' }),
      segment('OBR', { 1: '1', 3: 'L77500031', 4: 'K^K', 7: '20240601090000' }),
      segment('OBX', { 1: '1', 2: 'NM', 3: '2823-3^POTASSIUM^LN', 5: '6.1', 6: 'mmol/L', 7: '3.5-5.1', 8: 'H', 11: 'F' }),
    );
    expect((await dual.client.request(oru)).code).toBe('AA');
    await scene.sendHl7('results-service', oru, { legacyToo: true });
    await expectSameConfirmed(mrn);
    expect((await toBoth(adt('A11', pid(mrn), pv1({ 19: 'V7750003A' })), 'AE')).errorCodes).toEqual(['207']);
    await expectSameConfirmed(mrn);
    expect(await legacyVisits(mrn)).toEqual(['V7750003A']);
    expect(await serviceStayId('V7750003A')).toBeDefined();
    const results = JSON.parse((await ask(scene.results.url, `/api/results?mrn=${mrn}`)).body) as { items: { orderNumber: string; admissionId: number | null }[] };
    expect(results.items.filter((r) => r.orderNumber === 'L77500031')).toEqual([expect.objectContaining({ admissionId: Number(await serviceStayId('V7750003A')) })]);
  });
});

/**
 * The legacy applied the message and changed the stay again since; its CDC of that later change
 * reached patient-service before patient-service's copy of the message (its queue behind). The
 * copy is older than the legacy's committed state of the stay: stale, whatever that state would
 * make of it. As first written, each handler refused it on that newer state (HL7 207 or 102, a
 * dead letter where nothing was wrong). Every message here carries a time in the past, as the
 * late copy's would: the legacy's commits are newer.
 */
describe('mode dual, the legacy’s CDC of a later change of the stay before the service’s copy of the message: stale, not refused', () => {
  it('A13 of a stay the legacy opened again and moved since: stale, not 207 (not discharged)', async () => {
    const mrn = '7750020';
    await toBoth(adtAt(ago(50), 'A01', pid(mrn, { 5: 'late^lena', 7: '19800215', 8: 'F' }), pv1({ 2: 'I', 3: 'MED1^^3', 19: 'V7750020', 44: '202407011030' })));
    await toBoth(adtAt(ago(40), 'A03', pid(mrn), pv1({ 19: 'V7750020', 36: '01', 45: '202407031200' })));
    await expectSameConfirmed(mrn);
    const a13 = adtAt(ago(30), 'A13', pid(mrn), pv1({ 19: 'V7750020' }));
    await toLegacy(a13);
    await toLegacy(adtAt(ago(20), 'A08', pid(mrn), pv1({ 3: 'MED1^^5', 19: 'V7750020' })));
    await legacyChanges();
    const letters = (await serviceDeadLetters()).length;
    expect(await lateCopy(a13)).toBe('stale');
    expect(await serviceDeadLetters()).toHaveLength(letters);
    await expectSameConfirmed(mrn);
    expect((await stays(scene.patients.url, mrn)).map((s) => [s.status, s.bed])).toEqual([['ADMITTED', '5']]);
  });

  it('A11 the legacy refused (results filed under the stay), the stay discharged since: stale, not 207 (discharged)', async () => {
    const mrn = '7750021';
    await toBoth(adtAt(ago(50), 'A01', pid(mrn, { 5: 'late^luis', 7: '19700101', 8: 'M' }), pv1({ 2: 'I', 3: 'MED1^^4', 19: 'V7750021', 44: '202407011030' })));
    await toLegacy(
      hl7(
        msh('ORU^R01^ORU_R01', uniqueControlId('ORU'), { application: 'LABSYS', facility: 'CORELAB', time: ago(45) }),
        `PID|1||${mrn}`,
        pv1({ 19: 'V7750021' }),
        segment('OBR', { 1: '1', 3: 'L77500211', 4: 'K^K', 7: '20240701120000' }),
        segment('OBX', { 1: '1', 2: 'NM', 3: '2823-3^POTASSIUM^LN', 5: '4.1', 6: 'mmol/L', 11: 'F' }),
      ),
    );
    await expectSameConfirmed(mrn);
    const a11 = adtAt(ago(40), 'A11', pid(mrn), pv1({ 19: 'V7750021' }));
    expect((await toLegacy(a11, 'AE')).errorCodes).toEqual(['207']);
    await toLegacy(adtAt(ago(30), 'A03', pid(mrn), pv1({ 19: 'V7750021', 36: '01', 45: '202407031200' })));
    await legacyChanges();
    const letters = (await serviceDeadLetters()).length;
    expect(await lateCopy(a11)).toBe('stale');
    expect(await serviceDeadLetters()).toHaveLength(letters);
    await expectSameConfirmed(mrn);
    expect((await stays(scene.patients.url, mrn)).map((s) => s.status)).toEqual(['DISCHARGED']);
  });

  it('A03 whose discharge the legacy cancelled, the admission time corrected to after it since: stale, not 102 (discharged before the admission)', async () => {
    const mrn = '7750022';
    await toBoth(adtAt(ago(50), 'A01', pid(mrn, { 5: 'late^lou', 7: '19900101', 8: 'F' }), pv1({ 2: 'I', 3: 'MED1^^6', 19: 'V7750022', 44: '202407010800' })));
    await expectSameConfirmed(mrn);
    const a03 = adtAt(ago(40), 'A03', pid(mrn), pv1({ 19: 'V7750022', 36: '01', 45: '202407011000' }));
    await toLegacy(a03);
    await toLegacy(adtAt(ago(30), 'A13', pid(mrn), pv1({ 19: 'V7750022' })));
    await toLegacy(adtAt(ago(20), 'A08', pid(mrn), pv1({ 19: 'V7750022', 44: '202407011100' })));
    await legacyChanges();
    const letters = (await serviceDeadLetters()).length;
    expect(await lateCopy(a03)).toBe('stale');
    expect(await serviceDeadLetters()).toHaveLength(letters);
    await expectSameConfirmed(mrn);
    expect((await stays(scene.patients.url, mrn)).map((s) => [s.status, s.dischargeDate])).toEqual([['ADMITTED', null]]);
  });
});

describe('mode new: the legacy gets the change by write-back', () => {
  const mrn = '7750010';

  it('A13 opens the stay again in the legacy too', async () => {
    await inModeNew(a01(mrn, 'V7750010'));
    await inModeNew(a03(mrn, 'V7750010', '202407031200'));
    await expectLegacyGotIt(mrn);
    expect((await stays(scene.legacy.base, mrn))[0]).toMatchObject({ status: 'DISCHARGED' });
    await inModeNew(adt('A13', pid(mrn), pv1({ 19: 'V7750010' })));
    expect((await stays(scene.patients.url, mrn))[0]).toMatchObject({ status: 'ADMITTED', dischargeDate: null, dischargeDisposition: null });
    await expectLegacyGotIt(mrn);
    expect((await stays(scene.legacy.base, mrn))[0]).toMatchObject({ status: 'ADMITTED', dischargeDate: null, dischargeDisposition: null });
  });

  it('A31 changes the demographics in the legacy too, and no stay', async () => {
    await inModeNew(adt('A31', pid(mrn, { 5: 'mpi^name^""', 11: '9 new way^^boston^ma^02110' }), pv1({ 3: 'ICU^^9', 19: 'V7750010' })));
    expect(JSON.parse((await ask(scene.patients.url, `/api/patients/${mrn}`)).body)).toMatchObject({ lastName: 'MPI', firstName: 'NAME', middleName: null, address: { line1: '9 NEW WAY', city: 'BOSTON', state: 'MA', zip: '02110' } });
    await expectLegacyGotIt(mrn);
    expect((await stays(scene.legacy.base, mrn))[0]).toMatchObject({ ward: { code: 'MED1' }, bed: '3' });
  });

  it('A28 registers a new person in the legacy too, with no stay', async () => {
    const person = '7750011';
    await inModeNew(adt('A28', pid(person, { 5: 'mpi^added', 7: '19750101', 8: 'M' }), pv1({ 2: 'I', 19: 'V7750011' })));
    expect(JSON.parse((await ask(scene.patients.url, `/api/patients/${person}`)).body)).toMatchObject({ mrn: person, lastName: 'MPI', firstName: 'ADDED', dateOfBirth: '1975-01-01', sex: 'M' });
    await expectLegacyGotIt(person);
    expect(await stays(scene.legacy.base, person)).toEqual([]);
  });

  it('A11 is refused (a dead letter saying why): nothing is withdrawn on either side', async () => {
    await inModeNew(adt('A11', pid(mrn), pv1({ 19: 'V7750010' })));
    expect(await serviceDeadLetters()).toContainEqual(expect.stringMatching(/^HL7 207: an admission is not cancelled here when the legacy does not get the A11/));
    expect(await serviceStayId('V7750010')).toBeDefined();
    await expectLegacyGotIt(mrn);
    expect(await legacyVisits(mrn)).toEqual(['V7750010']);
  });
});
