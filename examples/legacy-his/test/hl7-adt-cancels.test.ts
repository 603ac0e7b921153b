/**
 * The HL7 inbound's ADT^A13 (cancel discharge), ADT^A28 (add person information), ADT^A31
 * (update person information) and ADT^A11 (cancel admit), over real MLLP connections, proven by
 * what the legacy HTTP API and database hold afterwards. Before 8 December the inbound refused
 * A13, A31 and A11 (AR 201): a discharge sent in error stayed on the chart after its A13, an MPI's
 * A31 was lost, and an admission cancelled by A11 stayed; A28 until 7 December (AR 201: an MPI's
 * new person was never registered).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { legacyAdtReads, pid, pv1 } from './support/adt-messages.js';
import { startHl7Harness, type Hl7Harness } from './support/hl7-harness.js';
import { hl7, msh, sample, segment, uniqueControlId, type MllpClient } from './support/mllp-client.js';

let his: Hl7Harness;
let client: MllpClient;
beforeAll(async () => {
  his = await startHl7Harness('legacy_hl7_cancels', 10);
  client = await his.connect();
});
afterAll(async () => {
  await his?.close();
});

const reads = legacyAdtReads(() => his, () => client);
const { adt, stays, stayOf, visitsOf, count, send, errText, discharge } = reads;
const patient = async (mrn: string) => (await reads.patient(mrn)).body;

async function admit(mrn: string, visit: string, admitted = '202407011030'): Promise<void> {
  const ack = await send(adt('A01', pid(mrn, { 5: 'cancel^carla', 7: '19800215', 8: 'F', 13: '(217)555-0101' }), pv1({ 2: 'I', 3: 'MED1^^3', 19: visit, 44: admitted })));
  expect(ack.code).toBe('AA');
}

describe('ADT^A13 (cancel discharge)', () => {
  const mrn = '7100001';

  it('opens the stay of PV1-19 again: discharge time and disposition cleared', async () => {
    await admit(mrn, 'V7100001');
    await discharge(mrn, 'V7100001', '202407031200');
    expect(await stayOf(mrn, 'V7100001')).toMatchObject({ status: 'DISCHARGED', dischargeDisposition: '01' });
    expect((await send(adt('A13', pid(mrn), pv1({ 2: 'I', 19: 'V7100001' })))).code).toBe('AA');
    expect(await stayOf(mrn, 'V7100001')).toMatchObject({ status: 'ADMITTED', dischargeDate: null, dischargeDisposition: null, ward: { code: 'MED1' }, bed: '3' });
    expect(await count("ADMISSION WHERE VISIT_NO = 'V7100001' AND DSCH_DT IS NULL AND DSCH_DISP_CD IS NULL")).toBe(1);
  });

  it('without PV1-19, opens the stay discharged last, and only that one', async () => {
    const other = '7100002';
    await admit(other, 'V7100002A', '202406010800');
    await admit(other, 'V7100002B', '202406100800');
    await discharge(other, 'V7100002B', '202406120900');
    await discharge(other, 'V7100002A', '202406150900');
    expect((await send(adt('A13', pid(other), pv1({ 2: 'I' })))).code).toBe('AA');
    expect(await stayOf(other, 'V7100002A')).toMatchObject({ status: 'ADMITTED', dischargeDate: null });
    expect(await stayOf(other, 'V7100002B')).toMatchObject({ status: 'DISCHARGED', dischargeDate: '2024-06-12T09:00:00' });
  });

  it('answers AE for a stay that is not discharged (207), another patient’s stay, no discharged stay, an unknown patient (204), and changes nothing', async () => {
    const rows = async () => (await his.pool.query('SELECT * FROM ADMISSION ORDER BY ADM_ID')).rows;
    const before = await rows();
    const open = await send(adt('A13', pid(mrn), pv1({ 19: 'V7100001' })));
    expect(open).toMatchObject({ code: 'AE', errorCodes: ['207'], errorLocation: 'PV1^1^19^1^1' });
    expect(errText(open)).toMatch(/not discharged/);
    expect(await send(adt('A13', pid(mrn), pv1({ 19: 'V7100002B' })))).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'PV1^1^19^1^1' });
    const none = await send(adt('A13', pid(mrn), pv1({ 2: 'I' })));
    expect(none).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'PV1^1^19^1^1' });
    expect(errText(none)).toMatch(/no discharged stay/);
    expect(await send(adt('A13', pid('7199999'), pv1({ 19: 'V7100001' })))).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'PID^1^3^1^1' });
    expect(await rows()).toEqual(before);
  });
});

describe('ADT^A31 (update person information)', () => {
  const mrn = '7100001';

  it('updates the demographics as A08 does ("" clears, empty keeps) and touches no stay, whatever its PV1 says', async () => {
    const stayBefore = await stayOf(mrn, 'V7100001');
    const ack = await send(adt('A31', pid(mrn, { 5: 'renamed^carla^m', 13: '""', 16: 'M' }), pv1({ 2: 'O', 3: 'ICU^^9', 19: 'V7100001', 36: '01', 45: '202407091200' })));
    expect(ack.code).toBe('AA');
    expect(await patient(mrn)).toMatchObject({ lastName: 'RENAMED', firstName: 'CARLA', middleName: 'M', dateOfBirth: '1980-02-15', sex: 'F', phone: null, maritalStatus: 'M' });
    expect(await stayOf(mrn, 'V7100001')).toEqual(stayBefore);
  });

  it('answers AE 204 for an unknown patient and registers nobody', async () => {
    expect(await send(adt('A31', pid('7199998', { 5: 'nobody^known', 7: '19700101' })))).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'PID^1^3^1^1' });
    expect(await count("PATIENT_MASTER WHERE PAT_MRN = '7199998'")).toBe(0);
  });
});

describe('ADT^A28 (add person information)', () => {
  const mrn = '7100005';

  it('registers the person and makes no stay, whatever its PV1 says', async () => {
    const ack = await send(adt('A28', pid(mrn, { 5: 'person^new^q', 7: '19910304', 8: 'F', 13: '(217)555-0199' }), pv1({ 2: 'I', 3: 'ICU^^9', 19: 'V7100005', 44: '202407011030' })));
    expect(ack.code).toBe('AA');
    expect(await patient(mrn)).toMatchObject({ mrn, lastName: 'PERSON', firstName: 'NEW', middleName: 'Q', dateOfBirth: '1991-03-04', sex: 'F', phone: '(217)555-0199', active: true });
    expect(await stays(mrn)).toEqual([]);
    expect(await count("ADMISSION WHERE VISIT_NO = 'V7100005'")).toBe(0);
  });

  it('sent again for a known patient, updates them as A04 does ("" clears, empty keeps), stays untouched', async () => {
    await admit(mrn, 'V7100005B');
    const stayBefore = await stayOf(mrn, 'V7100005B');
    expect((await send(adt('A28', pid(mrn, { 5: 'person^renamed', 13: '""' })))).code).toBe('AA');
    expect(await patient(mrn)).toMatchObject({ lastName: 'PERSON', firstName: 'RENAMED', dateOfBirth: '1980-02-15', phone: null });
    expect(await stayOf(mrn, 'V7100005B')).toEqual(stayBefore);
  });

  it('refuses a message without PID (AE 101, as every event that names a patient) and a PID-3 that is not an MRN (AE 102): nobody registered', async () => {
    const before = await count('PATIENT_MASTER');
    expect(await send(adt('A28', pv1({ 19: 'V7100006' })))).toMatchObject({ code: 'AE', errorCodes: ['101'] });
    expect(await send(adt('A28', pid('ABC12', { 5: 'not^an^mrn' })))).toMatchObject({ code: 'AE', errorCodes: ['102'] });
    expect(await count('PATIENT_MASTER')).toBe(before);
  });
});

describe('ADT^A11 (cancel admit)', () => {
  const mrn = '7100003';

  it('withdraws the open stay of PV1-19; the patient’s other stays stay', async () => {
    await admit(mrn, 'V7100003A', '202406010800');
    await admit(mrn, 'V7100003B', '202407010800');
    expect((await send(adt('A11', pid(mrn), pv1({ 2: 'I', 19: 'V7100003B' })))).code).toBe('AA');
    expect(await visitsOf(mrn)).toEqual(['V7100003A']);
    expect(await count("ADMISSION WHERE VISIT_NO = 'V7100003B'")).toBe(0);
  });

  it('refuses (AE 207) while results are filed under the stay: stay and results stay as they were', async () => {
    const oru = hl7(
      msh('ORU^R01^ORU_R01', uniqueControlId('ORU'), { application: 'LABSYS', facility: 'CORELAB' }),
      `PID|1||${mrn}`,
      pv1({ 19: 'V7100003A' }),
      segment('OBR', { 1: '1', 3: 'L71000031', 4: 'K^K', 7: '20240601090000' }),
      segment('OBX', { 1: '1', 2: 'NM', 3: '2823-3^POTASSIUM^LN', 5: '6.1', 6: 'mmol/L', 7: '3.5-5.1', 8: 'H', 11: 'F' }),
    );
    expect((await send(oru)).code).toBe('AA');
    expect(await count("LAB_RESULT r JOIN ADMISSION a USING (ADM_ID) WHERE a.VISIT_NO = 'V7100003A'")).toBe(1);
    const ack = await send(adt('A11', pid(mrn), pv1({ 19: 'V7100003A' })));
    expect(ack).toMatchObject({ code: 'AE', errorCodes: ['207'], errorLocation: 'PV1^1^19^1^1' });
    expect(errText(ack)).toMatch(/results are filed under the stay/);
    expect(await visitsOf(mrn)).toEqual(['V7100003A']);
    expect(await count("LAB_RESULT r JOIN ADMISSION a USING (ADM_ID) WHERE a.VISIT_NO = 'V7100003A'")).toBe(1);
  });

  it('refuses an A11 without PV1-19 (101), of a discharged stay (207), of another patient’s stay or an unknown patient (204), and changes nothing', async () => {
    const other = '7100004';
    await admit(other, 'V7100004', '202406010800');
    await discharge(other, 'V7100004', '202406020800');
    const before = await count('ADMISSION');
    expect(await send(adt('A11', pid(other), pv1({ 2: 'I' })))).toMatchObject({ code: 'AE', errorCodes: ['101'], errorLocation: 'PV1^1^19^1^1' });
    const discharged = await send(adt('A11', pid(other), pv1({ 19: 'V7100004' })));
    expect(discharged).toMatchObject({ code: 'AE', errorCodes: ['207'], errorLocation: 'PV1^1^19^1^1' });
    expect(errText(discharged)).toMatch(/cancel the discharge \(A13\)/);
    expect(await send(adt('A11', pid(other), pv1({ 19: 'V7100003A' })))).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'PV1^1^19^1^1' });
    expect(await send(adt('A11', pid('7199997'), pv1({ 19: 'V7100004' })))).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'PID^1^3^1^1' });
    expect(await count('ADMISSION')).toBe(before);
  });
});

describe('the public samples (their MRN PATID1234 made a legacy MRN)', () => {
  const mrn = '7100100';
  const visit = '40007716';
  const fromSample = (name: string, controlId: string) => sample(name).replace('|PATID1234^', `|${mrn}^`).replace('MSG00001', controlId);

  it('ADT-A13-01 opens the discharged stay of its visit number again', async () => {
    await admit(mrn, visit);
    await discharge(mrn, visit, '202407021200');
    expect(await send(fromSample('ADT-A13-01', 'A13-SAMPLE-1'))).toMatchObject({ code: 'AA', acked: 'A13-SAMPLE-1' });
    expect(await stayOf(mrn, visit)).toMatchObject({ status: 'ADMITTED', dischargeDate: null, dischargeDisposition: null });
  });

  it('ADT-A31-01 updates the person (PID-30 Y closes the record) and not the stay its PV1 names', async () => {
    const stayBefore = await stayOf(mrn, visit);
    expect(await send(fromSample('ADT-A31-01', 'A31-SAMPLE-1'))).toMatchObject({ code: 'AA', acked: 'A31-SAMPLE-1' });
    expect(await patient(mrn)).toMatchObject({ lastName: 'EVERYMAN', firstName: 'ADAM', middleName: 'A', dateOfBirth: '1988-08-18', sex: 'M', active: false });
    expect(await stayOf(mrn, visit)).toEqual(stayBefore);
  });

  it('ADT-A28-01 registers its person (a new MRN) with the demographics of its PID, and no stay', async () => {
    const person = '7100101';
    const message = sample('ADT-A28-01').replace('|PATID1234^', `|${person}^`).replace('MSG00001', 'A28-SAMPLE-1');
    expect(await send(message)).toMatchObject({ code: 'AA', acked: 'A28-SAMPLE-1' });
    expect(await patient(person)).toMatchObject({ mrn: person, lastName: 'EVERYMAN', firstName: 'ADAM', middleName: 'A', dateOfBirth: '1988-08-18', sex: 'M' });
    expect(await stays(person)).toEqual([]);
  });

  it('ADT-A11-01 withdraws the stay of its visit number', async () => {
    expect(await send(fromSample('ADT-A11-01', 'A11-SAMPLE-1'))).toMatchObject({ code: 'AA', acked: 'A11-SAMPLE-1' });
    expect(await stays(mrn)).toEqual([]);
  });
});
