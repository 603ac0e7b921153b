/**
 * The HL7 inbound's ADT^A47 (change patient identifier list: an MRN corrected), over real MLLP
 * connections, proven by what the legacy HTTP API and database hold afterwards. PAT_MRN is the
 * key of PATIENT_MASTER, so the record of MRG-1 is re-registered under PID-3's MRN and merged
 * into it as an A40 merges. Until 7 December the inbound refused A47 (AR 201): the patient kept
 * the MRN the master patient index had corrected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlValue } from '../../../test-support/legacy-his.js';
import { adtMessage, LEGACY_RECORDED, legacyAdtReads, pid } from './support/adt-messages.js';
import { startHl7Harness, type Hl7Harness } from './support/hl7-harness.js';
import { hl7, msh, sample, segment, uniqueControlId, type MllpClient } from './support/mllp-client.js';

let his: Hl7Harness;
let client: MllpClient;
beforeAll(async () => {
  his = await startHl7Harness('legacy_hl7_a47', 10);
  client = await his.connect();
});
afterAll(async () => {
  await his?.close();
});

const { patient, encounters, results, count, send } = legacyAdtReads(() => his, () => client);
const adt = (event: string, controlId: string, ...segments: string[]) => adtMessage(event, { structure: 'ADT_A30', controlId, recorded: LEGACY_RECORDED }, ...segments);
const a47 = (correct: string, incorrect: string, controlId = uniqueControlId('A47'), pidFields: Record<number, string> = {}) =>
  adt('A47', controlId, pid(correct, pidFields), `MRG|${incorrect}^^^GENHOSP^MR`);
/** every row an A47 could change */
const rows = async () => ({
  patients: (await his.pool.query('SELECT * FROM PATIENT_MASTER ORDER BY PAT_ID')).rows,
  stays: (await his.pool.query('SELECT * FROM ADMISSION ORDER BY ADM_ID')).rows,
  results: (await his.pool.query('SELECT * FROM LAB_RESULT ORDER BY RESULT_ID')).rows,
  merges: (await his.pool.query('SELECT * FROM PATIENT_MERGE ORDER BY MERGE_ID')).rows,
});

/** a patient with a stay and a result filed under it */
async function admittedWithResult(mrn: string, name: string): Promise<void> {
  const admit = adt('A01', uniqueControlId('A01'), pid(mrn, { 5: name, 7: '19800214', 8: 'F', 11: '1 OLD ROAD^^SPRINGFIELD^IL^62701', 13: '217-555-0101' }), segment('PV1', { 1: '1', 2: 'I', 3: 'MED1^^3', 19: `V${mrn}`, 44: '20240701080000' }));
  expect((await send(admit)).code).toBe('AA');
  const oru = hl7(
    msh('ORU^R01^ORU_R01', uniqueControlId('ORU')),
    `PID|1||${mrn}`,
    segment('PV1', { 1: '1', 2: 'I', 19: `V${mrn}` }),
    segment('OBR', { 1: '1', 2: `P${mrn}`, 3: `L${mrn}`, 4: 'CBC^CBC', 7: '20240702060000', 25: 'F' }),
    'OBX|1|NM|718-7^HEMOGLOBIN^LN||11.9|g/dL|12.0-16.0|L|||F',
  );
  expect((await send(oru)).code).toBe('AA');
}

describe('ADT^A47: an MRN corrected', () => {
  const wrong = '7470001';
  const right = '7470011';
  const controlId = uniqueControlId('A47');

  beforeAll(async () => {
    await admittedWithResult(wrong, 'RENUMBER^RUTH');
  });

  it('re-registers the record under PID-3’s MRN, with PID’s changes, and merges the old one into it: stays, results, PATIENT_MERGE', async () => {
    const before = (await patient(wrong)).body;
    const ack = await send(a47(right, wrong, controlId, { 5: 'RENUMBER^RUTH', 13: '217-555-0199' }));
    expect(ack).toMatchObject({ code: 'AA', acked: controlId });

    const now = await patient(right);
    expect(now.status).toBe(200);
    const { lastUpdated: _a, ...kept } = before;
    const { lastUpdated: _b, ...corrected } = now.body;
    // the record as it was (its registration's time too), with PID-13 as an A08 applies it
    expect(corrected).toEqual({ ...kept, mrn: right, phone: '217-555-0199' });
    expect((await patient(wrong)).body.active).toBe(false);
    expect((await encounters(right)).items).toEqual([expect.objectContaining({ mrn: right, ward: expect.objectContaining({ code: 'MED1' }), bed: '3' })]);
    expect((await encounters(wrong)).total).toBe(0);
    expect((await results(right)).items).toEqual([expect.objectContaining({ mrn: right, orderNumber: `L${wrong}`, value: '11.9' })]);
    expect((await results(wrong)).total).toBe(0);
    const merges = await his.pool.query('SELECT SURVIVOR_MRN, MERGED_MRN, ADM_CNT, RESULT_CNT, SEND_FACILITY, CONTROL_ID FROM PATIENT_MERGE');
    expect(merges.rows).toEqual([{ survivor_mrn: right, merged_mrn: wrong, adm_cnt: 1, result_cnt: 1, send_facility: 'GENHOSP', control_id: controlId }]);
    // an MRN from a sending system is never handed out again by the registration screen
    expect(await sqlValue<string>(his.pool, 'SELECT last_value::text AS v FROM PAT_MRN_SEQ')).toBe(right);
  });

  it('applies later messages that still name the old MRN to the corrected record', async () => {
    expect((await send(adt('A08', uniqueControlId('A08'), pid(wrong, { 13: '217-555-0177' })))).code).toBe('AA');
    expect((await patient(right)).body.phone).toBe('217-555-0177');
    expect((await patient(wrong)).body.phone).toBe('217-555-0101');
  });

  it('a resend (the same control id) is answered AA again and changes nothing', async () => {
    const before = await rows();
    expect(await send(a47(right, wrong, controlId, { 5: 'RENUMBER^RUTH', 13: '217-555-0199' }))).toMatchObject({ code: 'AA', acked: controlId });
    expect(await rows()).toEqual(before);
  });

  it('refuses a PID-3 MRN a record holds (205: a merge, never made silently), an unknown MRG-1 (204), MRG-1 = PID-3 (102), no MRG (101); nothing changes', async () => {
    await admittedWithResult('7470002', 'OTHER^OLGA');
    const before = await rows();
    // sent again as a new message, the correction is made already: PID-3's MRN is taken
    expect(await send(a47(right, wrong))).toMatchObject({ code: 'AE', errorCodes: ['205'], errorLocation: 'PID^1^3^1^1' });
    const merge = await send(a47('7470002', right));
    expect(merge).toMatchObject({ code: 'AE', errorCodes: ['205'], errorLocation: 'PID^1^3^1^1' });
    expect(merge.message.get('ERR-8')).toMatch(/an A47 does not merge two records \(send an A40\)/);
    const unknown = await send(a47('7470012', '7479999'));
    expect(unknown).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'MRG^1^1^1^1' });
    expect(unknown.message.get('ERR-8')).toBe('MRG-1: no patient with this MRN');
    expect(await send(a47('7470002', '7470002'))).toMatchObject({ code: 'AE', errorCodes: ['102'], errorLocation: 'MRG^1^1^1^1' });
    expect(await send(adt('A47', uniqueControlId('A47'), pid('7470012')))).toMatchObject({ code: 'AE', errorCodes: ['101'], errorLocation: 'MRG^1' });
    expect(await rows()).toEqual(before);
    expect((await patient('7470012')).status).toBe(404);
  });

  it('a change of another identifier than the MRN (an account number) is applied and changes nothing: the legacy keeps none', async () => {
    const before = await rows();
    const other = adt('A47', uniqueControlId('A47'), pid('7470002', { 3: '7470002^^^GENHOSP^MR~ACC2^^^GENHOSP^AN' }), 'MRG|ACC1^^^GENHOSP^AN');
    expect(await send(other)).toMatchObject({ code: 'AA', errorCodes: [] });
    expect(await rows()).toEqual(before);
    // of an unknown patient: 204 at PID-3, as any message naming one
    const unknown = adt('A47', uniqueControlId('A47'), pid('7479998', { 3: '7479998^^^GENHOSP^MR~ACC2^^^GENHOSP^AN' }), 'MRG|ACC1^^^GENHOSP^AN');
    expect(await send(unknown)).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'PID^1^3^1^1' });
  });
});

describe('the public sample ADT-A47-01 (its identifiers MR101 and MR102 made legacy MRNs)', () => {
  it('renumbers the patient of MRG-1 to PID-3’s MRN, with the sample’s demographics', async () => {
    await admittedWithResult('7470102', 'EVERYMAN^ADAM');
    const text = sample('ADT-A47-01').replace('|MR101^', '|7470101^').replace('MRG|MR102^', 'MRG|7470102^');
    expect(await send(text)).toMatchObject({ code: 'AA', acked: 'MSG000047' });
    expect((await patient('7470101')).body).toMatchObject({
      mrn: '7470101',
      lastName: 'EVERYMAN',
      firstName: 'ADAM',
      middleName: 'A',
      dateOfBirth: '1961-06-15',
      sex: 'M',
      address: expect.objectContaining({ city: 'GOODTOWN', state: 'KY' }),
      maritalStatus: 'M',
      active: true,
    });
    expect((await patient('7470102')).body.active).toBe(false);
    expect((await encounters('7470101')).total).toBe(1);
    expect((await results('7470101')).total).toBe(1);
    expect(await count('PATIENT_MERGE WHERE SURVIVOR_MRN = $1 AND MERGED_MRN = $2 AND CONTROL_ID = $3', ['7470101', '7470102', 'MSG000047'])).toBe(1);
  });
});
