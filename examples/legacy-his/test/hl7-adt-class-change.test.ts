/**
 * The HL7 inbound's ADT^A06 (an outpatient or emergency visit becomes an inpatient stay) and
 * ADT^A07 (the reverse), over real MLLP connections, proven by what the legacy HTTP API and
 * database hold afterwards. Until 7 December the inbound refused both (AR 201): the emergency
 * patient who was admitted stayed an emergency visit in the emergency department on the chart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { legacyAdtReads, mrg, pid, pv1 } from './support/adt-messages.js';
import { startHl7Harness, type Hl7Harness } from './support/hl7-harness.js';
import { sample, type MllpClient } from './support/mllp-client.js';

let his: Hl7Harness;
let client: MllpClient;
beforeAll(async () => {
  his = await startHl7Harness('legacy_hl7_class_change', 10);
  client = await his.connect();
});
afterAll(async () => {
  await his?.close();
});

const { adt, stays, stayOf, visitsOf, count, send, errText, discharge } = legacyAdtReads(() => his, () => client);

/** an emergency department visit (A04, PV1-2 E) */
async function emergencyVisit(mrn: string, visit: string, arrived = '202407011030'): Promise<void> {
  const ack = await send(adt('A04', pid(mrn, { 5: 'class^chris', 7: '19750310', 8: 'M' }), pv1({ 2: 'E', 3: 'ED^^4', 7: 'EDDOC', 19: visit, 44: arrived })));
  expect(ack.code).toBe('AA');
}
async function admit(mrn: string, visit: string, admitted = '202407011030'): Promise<void> {
  expect((await send(adt('A01', pid(mrn, { 5: 'class^chris', 7: '19750310', 8: 'M' }), pv1({ 2: 'I', 3: 'MED1^^3', 7: 'WARDDOC', 19: visit, 44: admitted })))).code).toBe('AA');
}

describe('ADT^A06 (change an outpatient to an inpatient)', () => {
  const mrn = '7200001';

  it('the emergency visit of PV1-19 becomes an inpatient stay: class, ward and bed, doctor; the same stay, its start kept', async () => {
    await emergencyVisit(mrn, 'V7200001');
    const before = await stayOf(mrn, 'V7200001');
    expect(before).toMatchObject({ admissionType: 'E', ward: { code: 'ED' }, bed: '4', attendingDoctorId: 'EDDOC', admitDate: '2024-07-01T10:30:00' });
    const ack = await send(adt('A06', pid(mrn), pv1({ 2: 'I', 3: 'MED1^^12', 7: 'WARDDOC', 19: 'V7200001' })));
    expect(ack.code).toBe('AA');
    expect(await stayOf(mrn, 'V7200001')).toMatchObject({
      admissionId: before!.admissionId,
      status: 'ADMITTED',
      admissionType: 'I',
      ward: { code: 'MED1' },
      bed: '12',
      attendingDoctorId: 'WARDDOC',
      admitDate: '2024-07-01T10:30:00',
    });
    expect(await stays(mrn)).toHaveLength(1);
  });

  it('PV1-44 moves the admit time; PV1-3 without a bed is no bed (a move); PV1-7 empty keeps the doctor', async () => {
    expect((await send(adt('A07', pid(mrn), pv1({ 2: 'O', 19: 'V7200001' })))).code).toBe('AA');
    expect((await send(adt('A06', pid(mrn), pv1({ 2: 'I', 3: 'MED2', 19: 'V7200001', 44: '202407011415' })))).code).toBe('AA');
    expect(await stayOf(mrn, 'V7200001')).toMatchObject({ admissionType: 'I', ward: { code: 'MED2' }, bed: null, attendingDoctorId: 'WARDDOC', admitDate: '2024-07-01T14:15:00' });
  });

  it('takes its class as an A01 does: PV1-4 E or A makes it an emergency admission, no PV1-2 an inpatient one', async () => {
    const other = '7200002';
    await emergencyVisit(other, 'V7200002A', '202406010800');
    await emergencyVisit(other, 'V7200002B', '202406020800');
    expect((await send(adt('A06', pid(other), pv1({ 2: 'I', 4: 'E', 19: 'V7200002A' })))).code).toBe('AA');
    expect((await send(adt('A06', pid(other), pv1({ 4: 'R', 19: 'V7200002B' })))).code).toBe('AA');
    expect(await stayOf(other, 'V7200002A')).toMatchObject({ admissionType: 'E', ward: { code: 'ED' }, bed: '4' });
    expect(await stayOf(other, 'V7200002B')).toMatchObject({ admissionType: 'I', ward: { code: 'ED' }, bed: '4' });
  });

  it('without PV1-19, changes the patient’s newest open visit, and only that one', async () => {
    const other = '7200003';
    await emergencyVisit(other, 'V7200003A', '202406010800');
    await emergencyVisit(other, 'V7200003B', '202406050800');
    await emergencyVisit(other, 'V7200003C', '202406090800');
    await discharge(other, 'V7200003C', '202406091000');
    expect((await send(adt('A06', pid(other), pv1({ 2: 'I', 3: 'SURG^^2' })))).code).toBe('AA');
    expect(await stayOf(other, 'V7200003B')).toMatchObject({ admissionType: 'I', ward: { code: 'SURG' }, bed: '2' });
    expect(await stayOf(other, 'V7200003A')).toMatchObject({ admissionType: 'E', ward: { code: 'ED' } });
    expect(await stayOf(other, 'V7200003C')).toMatchObject({ admissionType: 'E', ward: { code: 'ED' }, status: 'DISCHARGED' });
  });

  it('with MRG-5 (the prior visit number) other than PV1-19, changes the visit of MRG-5, which takes PV1-19 as its number', async () => {
    const other = '7200004';
    await emergencyVisit(other, 'ER7200004');
    const before = await stayOf(other, 'ER7200004');
    expect((await send(adt('A06', pid(other), mrg('ER7200004'), pv1({ 2: 'I', 3: 'CARD^^7', 19: 'IP7200004' })))).code).toBe('AA');
    expect(await visitsOf(other)).toEqual(['IP7200004']);
    expect(await stayOf(other, 'IP7200004')).toMatchObject({ admissionId: before!.admissionId, admissionType: 'I', ward: { code: 'CARD' }, bed: '7' });
    // sent again under another control id: the renumbering is made, the stay of PV1-19 is the one
    expect((await send(adt('A06', pid(other), mrg('ER7200004'), pv1({ 2: 'I', 3: 'CARD^^8', 19: 'IP7200004' })))).code).toBe('AA');
    expect(await visitsOf(other)).toEqual(['IP7200004']);
    expect(await stayOf(other, 'IP7200004')).toMatchObject({ admissionId: before!.admissionId, bed: '8' });
  });

  it('refuses what names no open visit of the patient, or contradicts itself, and changes nothing; never a new stay', async () => {
    const other = '7200005';
    await emergencyVisit(other, 'V7200005A', '202406010800');
    await discharge(other, 'V7200005A', '202406011000');
    await emergencyVisit('7200006', 'V7200006');
    const rows = async () => (await his.pool.query('SELECT * FROM ADMISSION ORDER BY ADM_ID')).rows;
    const before = await rows();

    const noOpen = await send(adt('A06', pid(other), pv1({ 2: 'I', 3: 'MED1' })));
    expect(noOpen).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'PV1^1^19^1^1' });
    expect(errText(noOpen)).toMatch(/no open stay/);
    const discharged = await send(adt('A06', pid(other), pv1({ 2: 'I', 19: 'V7200005A' })));
    expect(discharged).toMatchObject({ code: 'AE', errorCodes: ['207'], errorLocation: 'PV1^1^19^1^1' });
    expect(errText(discharged)).toMatch(/is discharged: there is no open visit for the A06 to change/);
    expect(await send(adt('A06', pid(other), pv1({ 2: 'I', 19: 'V7299999' })))).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'PV1^1^19^1^1' });
    expect(await send(adt('A06', pid(other), pv1({ 2: 'I', 19: 'V7200006' })))).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'PV1^1^19^1^1' });
    expect(await send(adt('A06', pid(other), mrg('V7299999'), pv1({ 2: 'I', 19: 'V7299998' })))).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'MRG^1^5^1^1' });
    expect(await send(adt('A06', pid(other), mrg('V7200006'), pv1({ 2: 'I', 19: 'V7299998' })))).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'MRG^1^5^1^1' });
    expect(await send(adt('A06', pid('7200006'), mrg('V7200006'), pv1({ 2: 'I', 19: 'V7200005A' })))).toMatchObject({ code: 'AE', errorCodes: ['205'], errorLocation: 'PV1^1^19^1^1' });
    const outpatient = await send(adt('A06', pid('7200006'), pv1({ 2: 'O', 19: 'V7200006' })));
    expect(outpatient).toMatchObject({ code: 'AE', errorCodes: ['102'], errorLocation: 'PV1^1^2' });
    expect(errText(outpatient)).toMatch(/an A06 makes the visit an inpatient stay/);
    expect(await send(adt('A06', pid('7299997'), pv1({ 2: 'I', 19: 'V7200006' })))).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'PID^1^3^1^1' });
    expect(await send(adt('A06', pid('7200006')))).toMatchObject({ code: 'AE', errorCodes: ['101'] });
    expect(await rows()).toEqual(before);
  });
});

describe('ADT^A07 (change an inpatient to an outpatient)', () => {
  const mrn = '7200010';

  it('the inpatient stay of PV1-19 becomes an outpatient visit, moved to PV1-3; no PV1-2 is outpatient too', async () => {
    await admit(mrn, 'V7200010A', '202406010800');
    await admit(mrn, 'V7200010B', '202406020800');
    expect((await send(adt('A07', pid(mrn), pv1({ 2: 'O', 3: 'OPD', 7: 'CLINDOC', 19: 'V7200010A' })))).code).toBe('AA');
    expect((await send(adt('A07', pid(mrn), pv1({ 19: 'V7200010B' })))).code).toBe('AA');
    expect(await stayOf(mrn, 'V7200010A')).toMatchObject({ admissionType: 'O', ward: { code: 'OPD' }, bed: null, attendingDoctorId: 'CLINDOC', admitDate: '2024-06-01T08:00:00' });
    expect(await stayOf(mrn, 'V7200010B')).toMatchObject({ admissionType: 'O', ward: { code: 'MED1' }, bed: '3', attendingDoctorId: 'WARDDOC' });
    expect(await stays(mrn)).toHaveLength(2);
  });

  it('with MRG-5 renumbers the visit it changes', async () => {
    expect((await send(adt('A07', pid(mrn), mrg('V7200010A'), pv1({ 2: 'O', 19: 'OP7200010' })))).code).toBe('AA');
    expect(await visitsOf(mrn)).toEqual(['OP7200010', 'V7200010B']);
  });

  it('refuses an inpatient PV1-2, a discharged stay and no open stay, and changes nothing', async () => {
    const other = '7200011';
    await admit(other, 'V7200011', '202406010800');
    const before = await count("ADMISSION WHERE PAT_MRN = '7200011' AND ADM_TYPE_CD = 'I'");
    const inpatient = await send(adt('A07', pid(other), pv1({ 2: 'I', 19: 'V7200011' })));
    expect(inpatient).toMatchObject({ code: 'AE', errorCodes: ['102'], errorLocation: 'PV1^1^2' });
    expect(errText(inpatient)).toMatch(/an A07 makes the visit an outpatient visit/);
    await discharge(other, 'V7200011', '202406030800');
    expect(await send(adt('A07', pid(other), pv1({ 2: 'O', 19: 'V7200011' })))).toMatchObject({ code: 'AE', errorCodes: ['207'], errorLocation: 'PV1^1^19^1^1' });
    expect(await send(adt('A07', pid(other), pv1({ 2: 'O' })))).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'PV1^1^19^1^1' });
    expect(await count("ADMISSION WHERE PAT_MRN = '7200011' AND ADM_TYPE_CD = 'I'")).toBe(before);
  });
});

describe('the public samples ADT-A06-01 and ADT-A07-01 (their MRN PATID1234 made a legacy MRN)', () => {
  const mrn = '7200100';
  const visit = '5001';
  const fromSample = (name: string, controlId: string) => sample(name).replace('|PATID1234^', `|${mrn}^`).replace('MSG00006', controlId).replace('MSG00007', controlId);

  it('ADT-A06-01 makes the emergency visit of its PV1-19 an inpatient stay, at its PV1-3 and PV1-44', async () => {
    await emergencyVisit(mrn, visit);
    expect(await send(fromSample('ADT-A06-01', 'A06-SAMPLE-1'))).toMatchObject({ code: 'AA', acked: 'A06-SAMPLE-1' });
    // PV1-3 SPROOM is no ward of the legacy's (UNK); PV1-7 0210; PV1-44 2021-01-15 16:00:10 at +02:15
    expect(await stays(mrn)).toEqual([
      expect.objectContaining({ admissionType: 'I', ward: expect.objectContaining({ code: 'UNK' }), bed: 'BED-1', attendingDoctorId: '0210', admitDate: await his.localTime('2021-01-15 16:00:10+02:15') }),
    ]);
  });

  it('ADT-A07-01 makes it an outpatient visit again, in the outpatient clinics', async () => {
    expect(await send(fromSample('ADT-A07-01', 'A07-SAMPLE-1'))).toMatchObject({ code: 'AA', acked: 'A07-SAMPLE-1' });
    expect(await stays(mrn)).toEqual([expect.objectContaining({ admissionType: 'O', ward: expect.objectContaining({ code: 'OPD' }), bed: '01', attendingDoctorId: '0210' })]);
    expect(await visitsOf(mrn)).toEqual([visit]);
  });
});
