/**
 * The HL7 inbound's ADT events, over real MLLP connections, proven by what the legacy HTTP API
 * answers afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EncounterList, LegacyPatient, ResultList } from '../src/index.js';
import { getJson, sqlValue } from '../../../test-support/legacy-his.js';
import { startHl7Harness, type Hl7Harness } from './support/hl7-harness.js';
import { hl7, msh, sample, segment, uniqueControlId, type MllpClient } from './support/mllp-client.js';

let his: Hl7Harness;
let client: MllpClient;
beforeAll(async () => {
  his = await startHl7Harness('legacy_hl7_adt');
  client = await his.connect();
});
afterAll(async () => {
  await his?.close();
});

const patient = (mrn: string) => getJson<LegacyPatient>(`${his.base}/api/patients/${mrn}`);
const encounters = async (mrn: string) => (await getJson<EncounterList>(`${his.base}/api/encounters?mrn=${mrn}`)).body;
const results = async (mrn: string) => (await getJson<ResultList>(`${his.base}/api/results?mrn=${mrn}`)).body;
const pv1 = (fields: Record<number, string>) => segment('PV1', { 1: '1', ...fields });
const count = (sql: string, params: unknown[] = []) => sqlValue<number>(his.pool, `SELECT count(*)::int AS v FROM ${sql}`, params);

function a01(controlId: string, mrn: string, visit: string, extra: { pv1?: string; pid?: string } = {}) {
  return hl7(
    msh('ADT^A01^ADT_A01', controlId),
    'EVN|A01|20240701103000',
    extra.pid ??
      segment('PID', {
        1: '1',
        3: `${mrn}^^^GENHOSP^MR`,
        5: "o'brien-smith^mary^k",
        7: '19800215',
        8: 'F',
        11: '12 main st^apt 3^springfield^il^627011234',
        13: '(217)555-0101',
        16: 'M',
      }),
    extra.pv1 ?? pv1({ 2: 'I', 3: 'MED1^12^3b', 4: 'R', 7: 'D10007^HOUSE^GREG', 19: visit, 44: '202407011030' }),
  );
}

describe('ADT^A01 (admit)', () => {
  const mrn = '7000001';
  let controlId: string;

  it('registers an unknown patient and admits them; the ACK answers the message after the commit', async () => {
    expect((await patient(mrn)).status).toBe(404);
    controlId = uniqueControlId('A01');
    const ack = await client.request(a01(controlId, mrn, 'V7000001'));
    expect(ack).toMatchObject({ code: 'AA', acked: controlId, errorCodes: [] });
    expect(ack.message.header.messageType).toBe('ACK');
    expect(ack.message.header.triggerEvent).toBe('A01');

    const { status, body } = await patient(mrn);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      mrn,
      lastName: "O'BRIEN-SMITH",
      firstName: 'MARY',
      middleName: 'K',
      dateOfBirth: '1980-02-15',
      sex: 'F',
      address: { line1: '12 MAIN ST APT 3', city: 'SPRINGFIELD', state: 'IL', zip: '62701-1234' },
      phone: '(217)555-0101',
      maritalStatus: 'M',
      active: true,
      lastUpdatedBy: 'ADT_IFACE',
    });
    const stays = await encounters(mrn);
    expect(stays.total).toBe(1);
    expect(stays.items[0]).toMatchObject({
      mrn,
      admitDate: '2024-07-01T10:30:00',
      dischargeDate: null,
      status: 'ADMITTED',
      admissionType: 'I',
      ward: { code: 'MED1', description: 'MEDICAL WARD 1 (GENERAL MEDICINE)' },
      bed: '3B',
      attendingDoctorId: 'D10007',
      dischargeDisposition: null,
    });
    expect(await sqlValue<string>(his.pool, 'SELECT VISIT_NO AS v FROM ADMISSION WHERE PAT_MRN = $1', [mrn])).toBe('V7000001');
  });

  it('applies a message sent again (same facility and control id) once, and answers AA again with a fresh MSH-10', async () => {
    const first = await sqlValue<string>(his.pool, 'SELECT ACK_CD AS v FROM HL7_INBOUND_LOG WHERE CONTROL_ID = $1', [controlId]);
    expect(first).toBe('AA');
    const again = await client.request(a01(controlId, mrn, 'V7000001'));
    const third = await client.request(a01(controlId, mrn, 'V7000001'));
    expect(again).toMatchObject({ code: 'AA', acked: controlId });
    expect(third).toMatchObject({ code: 'AA', acked: controlId });
    expect(new Set([again.controlId, third.controlId]).size).toBe(2);
    expect((await encounters(mrn)).total).toBe(1);
    const { rows } = await his.pool.query('SELECT OUTCOME, ACK_CD, ATTEMPT_CNT, DUP_CNT, MSG_TYPE, TRIGGER_EVT FROM HL7_INBOUND_LOG WHERE CONTROL_ID = $1', [controlId]);
    expect(rows).toEqual([{ outcome: 'APPLIED', ack_cd: 'AA', attempt_cnt: 1, dup_cnt: 2, msg_type: 'ADT', trigger_evt: 'A01' }]);
  });

  it('applies the same control id from another sending facility: the key is (MSH-4, MSH-10)', async () => {
    const other = hl7(
      msh('ADT^A01^ADT_A01', controlId, { facility: 'OTHERHOSP' }),
      `PID|1||7000002||JONES^ANN||19700101|F`,
      pv1({ 2: 'E', 3: 'ED^^4', 19: 'V7000002', 44: '202407011100' }),
    );
    expect(await client.request(other)).toMatchObject({ code: 'AA', acked: controlId });
    expect((await encounters('7000002')).items[0]).toMatchObject({ admissionType: 'E', ward: { code: 'ED' }, bed: '4' });
    expect(await count('HL7_INBOUND_LOG WHERE CONTROL_ID = $1', [controlId])).toBe(2);
  });

  it('keeps the MRN sequence ahead of an MRN a sender assigned, so the registration screen never reuses it', async () => {
    const res = await fetch(`${his.base}/api/patients`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ lastName: 'NEXT', firstName: 'ONE', dateOfBirth: '1990-01-01', sex: 'U' }),
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as LegacyPatient).mrn).toBe('7000003');
  });

  it('updates the stay instead of adding one when the visit number is already the patient’s', async () => {
    const ack = await client.request(
      a01(uniqueControlId('A01'), mrn, 'V7000001', { pv1: pv1({ 2: 'I', 3: 'ICU^1^7', 7: 'D10180', 19: 'V7000001', 44: '202407011045' }) }),
    );
    expect(ack.code).toBe('AA');
    const stays = await encounters(mrn);
    expect(stays.total).toBe(1);
    expect(stays.items[0]).toMatchObject({ ward: { code: 'ICU' }, bed: '7', attendingDoctorId: 'D10180', admitDate: '2024-07-01T10:45:00' });
  });

  it('refuses a visit number of another patient (AE 205) and changes nothing', async () => {
    const before = await count('ADMISSION');
    const ack = await client.request(a01(uniqueControlId('A01'), '7000010', 'V7000001'));
    expect(ack).toMatchObject({ code: 'AE', errorCodes: ['205'], errorLocation: 'PV1^1^19^1^1' });
    expect(await count('ADMISSION')).toBe(before);
    expect((await patient('7000010')).status).toBe(404); // the registration was rolled back with it
  });

  it('puts an unknown point of care in ward UNK, or in the ward HL7_WARD_MAP names', async () => {
    await client.request(a01(uniqueControlId(), '7000011', 'V7000011', { pv1: pv1({ 2: 'I', 3: '4EAST^401^A', 19: 'V7000011' }) }));
    expect((await encounters('7000011')).items[0]?.ward).toEqual({ code: 'UNK', description: 'UNKNOWN WARD (HL7 INBOUND)' });
    await his.pool.query(`INSERT INTO HL7_WARD_MAP (POC_CD, WARD_CD) VALUES ('4WEST', 'SURG')`);
    await client.request(a01(uniqueControlId(), '7000012', 'V7000012', { pv1: pv1({ 2: 'I', 3: '4west^401^B', 19: 'V7000012' }) }));
    expect((await encounters('7000012')).items[0]?.ward.code).toBe('SURG');
  });

  it('takes the admit time from EVN when PV1-44 is empty, and converts a time sent with its UTC offset to local time', async () => {
    await client.request(a01(uniqueControlId(), '7000013', 'V7000013', { pv1: pv1({ 2: 'O', 3: 'OPD', 19: 'V7000013' }) }));
    expect((await encounters('7000013')).items[0]).toMatchObject({ admitDate: '2024-07-01T10:30:00', admissionType: 'O', bed: null });
    await client.request(a01(uniqueControlId(), '7000014', 'V7000014', { pv1: pv1({ 2: 'I', 3: 'SURG', 19: 'V7000014', 44: '202407011030+0500' }) }));
    expect((await encounters('7000014')).items[0]?.admitDate).toBe(await his.localTime('2024-07-01 10:30:00+05:00'));
  });

  it('refuses what it cannot store: a MRN that is not the legacy format or a national id, a missing date of birth, an impossible date', async () => {
    const before = await count('PATIENT_MASTER');
    const bad = [
      [a01(uniqueControlId(), 'PATID1234', 'V1'), '102', 'PID^1^3^1^1'],
      [a01(uniqueControlId(), '7000020', 'V7000020', { pid: 'PID|1||7000020||DOE^JOHN||' }), '101', 'PID^1^7'],
      [a01(uniqueControlId(), '7000021', 'V7000021', { pid: 'PID|1||7000021||DOE^JOHN||19800231|M' }), '102', 'PID^1^7'],
      [a01(uniqueControlId(), '7000022', 'V7000022', { pv1: pv1({ 2: 'I', 3: 'MED1', 19: 'V7000022', 44: '2024070125' }) }), '102', 'PV1^1^44'],
      // a social security number of 9 digits passes for an MRN: without one typed MR it is refused
      [a01(uniqueControlId(), '7000023', 'V7000023', { pid: 'PID|1||777000113^^^SSA^SS||DOE^JOHN||19800101|M' }), '102', 'PID^1^3^1^5'],
    ] as const;
    for (const [message, code, location] of bad) {
      expect(await client.request(message)).toMatchObject({ code: 'AE', errorCodes: [code], errorLocation: location });
    }
    expect(await count('PATIENT_MASTER')).toBe(before);
  });
});

describe('the public samples', () => {
  it('ADT01-23 (v2.3, with a byte order mark) registers DUCK, DONALD and admits him to UNK', async () => {
    const ack = await client.request(sample('ADT01-23'));
    expect(ack).toMatchObject({ code: 'AA', acked: '599102' });
    expect((await patient('10006579')).body).toMatchObject({
      lastName: 'DUCK',
      firstName: 'DONALD',
      middleName: 'D',
      dateOfBirth: '1924-10-10',
      sex: 'M',
      address: { line1: '111 DUCK ST', city: 'FOWL', state: 'CA', zip: '99999-0000' },
      phone: '8885551212',
      maritalStatus: 'U',
      active: true,
    });
    expect((await encounters('10006579')).items).toEqual([
      expect.objectContaining({
        admitDate: await his.localTime('2005-01-10 04:55:02+07:00'),
        status: 'ADMITTED',
        admissionType: 'I',
        ward: { code: 'UNK', description: 'UNKNOWN WARD (HL7 INBOUND)' },
        bed: '1',
        attendingDoctorId: '37',
      }),
    ]);
  });

  it('ADT-A01-01 as published (MRN PATID1234) is refused: not a legacy MRN', async () => {
    const ack = await client.request(sample('ADT-A01-01'));
    expect(ack).toMatchObject({ code: 'AE', acked: 'MSG00001', errorCodes: ['102'], errorLocation: 'PID^1^3^1^1' });
  });

  it('ADT-A04-01 registers an outpatient visit; its visit number, already DUCK’s, is refused first', async () => {
    const text = sample('ADT-A04-01').replace('|PATID1234^', '|7000100^').replace('MSG00001', 'A04-SAMPLE-1');
    expect(await client.request(text)).toMatchObject({ code: 'AE', acked: 'A04-SAMPLE-1', errorCodes: ['205'] });
    const fixed = text.replace('A04-SAMPLE-1', 'A04-SAMPLE-2').replaceAll('|40007716^^^AccMng', '|V4000001^^^AccMng');
    expect(await client.request(fixed)).toMatchObject({ code: 'AA', acked: 'A04-SAMPLE-2' });
    expect((await patient('7000100')).body).toMatchObject({
      lastName: 'EVERYMAN',
      firstName: 'ADAM',
      middleName: 'A',
      dateOfBirth: '1988-08-18',
      sex: 'M',
      address: { line1: '1000 HOSPITAL LANE STE. 123', city: 'ANN ARBOR', state: 'MI', zip: '99999' },
      maritalStatus: 'M',
      active: false, // PID-30 (death indicator) is Y in this sample
    });
    expect((await encounters('7000100')).items[0]).toMatchObject({
      admitDate: await his.localTime('2015-02-08 11:34:19+01:10'),
      admissionType: 'E', // PV1-2 P (preadmit) with PV1-4 E (emergency)
      ward: { code: 'UNK' },
      bed: 'BED 03',
      attendingDoctorId: '1122334',
    });
  });

  it('ADT-A08-01 for a patient the legacy does not know is AE 204 and creates nothing', async () => {
    const text = sample('ADT-A08-01').replace('|PATID1234^', '|7999999^').replace('MSG00001', 'A08-SAMPLE-1');
    expect(await client.request(text)).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'PID^1^3^1^1' });
    expect((await patient('7999999')).status).toBe(404);
  });

  it('ADT-A03-01 discharges the stay of its visit number, once its disposition is a code', async () => {
    const text = sample('ADT-A03-01').replace('|PATID1234^', '|10006579^').replace('MSG00001', 'A03-SAMPLE-1');
    // PV1-36 of the sample is the text "Admitted as Inpatient"
    expect(await client.request(text)).toMatchObject({ code: 'AE', errorCodes: ['103'], errorLocation: 'PV1^1^36' });
    expect((await encounters('10006579')).items[0]?.status).toBe('ADMITTED');
    const fixed = text.replace('A03-SAMPLE-1', 'A03-SAMPLE-2').replace('|Admitted as Inpatient^Sample^ACR|', '|20|');
    expect(await client.request(fixed)).toMatchObject({ code: 'AA', acked: 'A03-SAMPLE-2' });
    expect((await encounters('10006579')).items[0]).toMatchObject({
      status: 'DISCHARGED',
      dischargeDate: await his.localTime('2015-02-09 11:34:19+01:10'),
      dischargeDisposition: '20',
    });
  });
});

describe('ADT^A04 (register)', () => {
  it('only registers the patient when the PV1 describes no visit (class N), and records the visit otherwise', async () => {
    const none = hl7(msh('ADT^A04^ADT_A01', uniqueControlId('A04')), segment('PID', { 1: '1', 3: '7000300', 5: 'WALKIN^WANDA', 7: '19991231', 8: 'F' }), pv1({ 2: 'N' }));
    expect((await client.request(none)).code).toBe('AA');
    expect((await patient('7000300')).status).toBe(200);
    expect(await encounters('7000300')).toEqual({ mrn: '7000300', total: 0, items: [] });
    const clinic = hl7(msh('ADT^A04^ADT_A01', uniqueControlId('A04')), 'PID|1||7000300', pv1({ 3: 'OPD', 19: 'V7000300', 44: '20240702140000' }));
    expect((await client.request(clinic)).code).toBe('AA');
    expect((await encounters('7000300')).items).toEqual([
      expect.objectContaining({ admissionType: 'O', ward: expect.objectContaining({ code: 'OPD' }), admitDate: '2024-07-02T14:00:00', status: 'ADMITTED' }),
    ]);
  });
});

describe('ADT^A08 (update patient information)', () => {
  it('replaces the demographics sent, clears a field sent as "", keeps the empty ones, and updates the stay of PV1-19', async () => {
    const before = (await patient('7000001')).body;
    const ack = await client.request(
      hl7(
        msh('ADT^A08^ADT_A01', uniqueControlId('A08')),
        'EVN|A08|20240702090000',
        segment('PID', { 1: '1', 3: '7000001^^^GENHOSP^MR', 5: 'SMITH^MARY^""', 11: '99 elm ave^^peoria^il^61602', 16: 'D' }),
        pv1({ 2: 'I', 3: 'CARD^2^2A', 19: 'V7000001' }),
      ),
    );
    expect(ack.code).toBe('AA');
    const after = (await patient('7000001')).body;
    expect(after).toMatchObject({
      lastName: 'SMITH',
      firstName: 'MARY',
      middleName: null,
      dateOfBirth: before.dateOfBirth,
      sex: before.sex,
      address: { line1: '99 ELM AVE', city: 'PEORIA', state: 'IL', zip: '61602' },
      phone: before.phone,
      maritalStatus: 'D',
    });
    expect((await encounters('7000001')).items[0]).toMatchObject({ ward: { code: 'CARD' }, bed: '2A', attendingDoctorId: 'D10180', admissionType: 'I' });
  });

  it('writes nothing when nothing changes: the patient keeps LAST_UPD_DT and its ETag', async () => {
    const first = await fetch(`${his.base}/api/patients/7000001`);
    await client.request(hl7(msh('ADT^A08^ADT_A01', uniqueControlId('A08')), 'PID|1||7000001||SMITH^MARY'));
    const second = await fetch(`${his.base}/api/patients/7000001`);
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
  });
});

describe('ADT^A03 (discharge)', () => {
  it('sets the discharge time and disposition of the stay of PV1-19', async () => {
    const ack = await client.request(
      hl7(msh('ADT^A03^ADT_A03', uniqueControlId('A03')), 'EVN|A03|20240705120500', 'PID|1||7000001', pv1({ 2: 'I', 3: 'CARD^2^2A', 19: 'V7000001', 36: '1', 45: '202407051200' })),
    );
    expect(ack.code).toBe('AA');
    expect((await encounters('7000001')).items[0]).toMatchObject({ status: 'DISCHARGED', dischargeDate: '2024-07-05T12:00:00', dischargeDisposition: '01' });
  });

  it('without a visit number, discharges the patient’s open stay (time from EVN when PV1-45 is empty)', async () => {
    const ack = await client.request(hl7(msh('ADT^A03^ADT_A03', uniqueControlId('A03')), 'EVN|A03|20240702180000', 'PID|1||7000002', pv1({ 2: 'E', 36: '07' })));
    expect(ack.code).toBe('AA');
    expect((await encounters('7000002')).items[0]).toMatchObject({ status: 'DISCHARGED', dischargeDate: '2024-07-02T18:00:00', dischargeDisposition: '07' });
  });

  it('answers AE 204 for an unknown patient, or a patient without that stay, and changes nothing', async () => {
    const before = await count('ADMISSION WHERE DSCH_DT IS NULL');
    const unknown = await client.request(hl7(msh('ADT^A03^ADT_A03', uniqueControlId('A03')), 'PID|1||7999998', pv1({ 2: 'I', 36: '01', 45: '202407051200' })));
    expect(unknown).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'PID^1^3^1^1' });
    const noStay = await client.request(hl7(msh('ADT^A03^ADT_A03', uniqueControlId('A03')), 'PID|1||7000011', pv1({ 2: 'I', 19: 'NOSUCHVISIT', 36: '01' })));
    expect(noStay).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'PV1^1^19^1^1' });
    const beforeAdmission = await client.request(
      hl7(msh('ADT^A03^ADT_A03', uniqueControlId('A03')), 'PID|1||7000011', pv1({ 2: 'I', 19: 'V7000011', 36: '01', 45: '202001010000' })),
    );
    expect(beforeAdmission).toMatchObject({ code: 'AE', errorCodes: ['102'], errorLocation: 'PV1^1^45' });
    expect(await count('ADMISSION WHERE DSCH_DT IS NULL')).toBe(before);
  });
});

describe('ADT^A40 (merge patients)', () => {
  const survivor = '7000200';
  const merged = '7000201';

  beforeAll(async () => {
    for (const [mrn, name, visit] of [[survivor, 'TEST^TESTA', 'V7000200'], [merged, 'TEST^TESTB', 'V7000201']] as const) {
      const ack = await client.request(
        hl7(msh('ADT^A01^ADT_A01', uniqueControlId()), `PID|1||${mrn}||${name}||20180205|F`, pv1({ 2: 'I', 3: 'PEDS^1^1A', 19: visit, 44: '20240601080000' })),
      );
      expect(ack.code).toBe('AA');
    }
    const oru = await client.request(
      hl7(
        msh('ORU^R01^ORU_R01', uniqueControlId('ORU')),
        `PID|1||${merged}`,
        pv1({ 2: 'I', 19: 'V7000201' }),
        segment('OBR', { 1: '1', 2: 'P100', 3: 'L240900001', 4: 'CBC^CBC', 7: '20240602060000', 22: '20240602080000', 25: 'F' }),
        'OBX|1|NM|718-7^HEMOGLOBIN^LN||11.9|g/dL|12.0-16.0|L|||F',
      ),
    );
    expect(oru.code).toBe('AA');
  });

  it('moves the merged patient’s stays and results to the survivor, closes the merged record, and records the merge', async () => {
    const survivorBefore = (await patient(survivor)).body;
    // the published sample, with MRNs in the legacy format; its MSH-15 is NE: no commit ACK is
    // owed, so the next ACK on the connection answers the message after it
    const text = sample('ADT-A40-01').replace('|12345^', `|${survivor}^`).replace('|56789^', `|${merged}^`);
    client.send(text);
    const probe = uniqueControlId('PROBE');
    const ack = await client.request(hl7(msh('ADT^A08^ADT_A01', probe), `PID|1||${survivor}`));
    expect(ack.acked).toBe(probe);

    const stays = await encounters(survivor);
    expect(stays.total).toBe(2);
    expect(stays.items.every((e) => e.mrn === survivor)).toBe(true);
    const labs = await results(survivor);
    expect(labs.items).toEqual([expect.objectContaining({ mrn: survivor, orderNumber: 'L240900001', testCode: '718-7', value: '11.9', abnormalFlag: 'L' })]);
    expect(await encounters(merged)).toEqual({ mrn: merged, total: 0, items: [] });
    expect((await results(merged)).total).toBe(0);
    expect((await patient(merged)).body.active).toBe(false);
    // the survivor's demographics are not taken from the A40
    expect((await patient(survivor)).body).toMatchObject({ lastName: survivorBefore.lastName, firstName: survivorBefore.firstName, active: true });
    const { rows } = await his.pool.query('SELECT SURVIVOR_MRN, MERGED_MRN, ADM_CNT, RESULT_CNT, SEND_FACILITY, CONTROL_ID FROM PATIENT_MERGE');
    expect(rows).toEqual([{ survivor_mrn: survivor, merged_mrn: merged, adm_cnt: 1, result_cnt: 1, send_facility: 'Ntierprise Clinic', control_id: '8919-40' }]);
  });

  it('applies later messages that still name the merged-away MRN to the survivor', async () => {
    const ack = await client.request(
      hl7(
        msh('ORU^R01^ORU_R01', uniqueControlId('ORU')),
        `PID|1||${merged}`,
        segment('OBR', { 1: '1', 2: 'P101', 3: 'L240900002', 4: 'BMP^BMP', 7: '20240603060000' }),
        'OBX|1|NM|2823-3^POTASSIUM^LN||4.1|mmol/L|3.5-5.1|N|||F',
      ),
    );
    expect(ack.code).toBe('AA');
    expect((await results(survivor)).items.map((r) => r.orderNumber).sort()).toEqual(['L240900001', 'L240900002']);
    expect((await results(merged)).total).toBe(0);
  });

  it('answers AE 204 when either patient is unknown, and merges nothing', async () => {
    const unknownMerged = await client.request(hl7(msh('ADT^A40^ADT_A39', uniqueControlId('A40')), `PID|1||${survivor}`, 'MRG|7999997'));
    expect(unknownMerged).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'MRG^1^1^1^1' });
    const unknownSurvivor = await client.request(hl7(msh('ADT^A40^ADT_A39', uniqueControlId('A40')), 'PID|1||7999997', 'MRG|7000100'));
    expect(unknownSurvivor).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'PID^1^3^1^1' });
    expect((await patient('7000100')).body.active).toBe(false); // (inactive from its A04 sample already)
    expect(await count('PATIENT_MERGE')).toBe(1);
  });
});
