/**
 * ORU^R01 through the HL7 inbound: laboratory results appear at GET /api/results.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LegacyLabResult, ResultList } from '../src/index.js';
import { getJson, sqlValue } from '../../../test-support/legacy-his.js';
import { startHl7Harness, type Hl7Harness } from './support/hl7-harness.js';
import { hl7, msh, sample, segment, uniqueControlId, type MllpClient } from './support/mllp-client.js';

let his: Hl7Harness;
let client: MllpClient;
beforeAll(async () => {
  his = await startHl7Harness('legacy_hl7_oru');
  client = await his.connect();
});
afterAll(async () => {
  await his?.close();
});

const DUCK = '10006579';
const results = async (mrn: string) => (await getJson<ResultList>(`${his.base}/api/results?mrn=${mrn}`)).body;
const byTest = async (mrn: string, order: string, test: string): Promise<LegacyLabResult[]> =>
  (await results(mrn)).items.filter((r) => r.orderNumber === order && r.testCode === test);
const labRows = () => sqlValue<number>(his.pool, 'SELECT count(*)::int AS v FROM LAB_RESULT');

function oru(controlId: string, mrn: string, ...segments: string[]) {
  return hl7(msh('ORU^R01^ORU_R01', controlId, { application: 'LABSYS', facility: 'CORELAB' }), `PID|1||${mrn}`, ...segments);
}
const obr = (order: string, collected = '20240701061500', reported = '20240701090000') =>
  segment('OBR', { 1: '1', 2: `P${order}`, 3: order, 4: 'PANEL^PANEL', 7: collected, 22: reported, 25: 'F' });
const obx = (n: number, type: string, test: string, value: string, units: string, range: string, flag: string, status: string) =>
  segment('OBX', { 1: String(n), 2: type, 3: test, 5: value, 6: units, 7: range, 8: flag, 11: status });

describe('ORU^R01', () => {
  it('answers AE 204 for a patient the legacy does not know, and stores nothing', async () => {
    const before = await labRows();
    const ack = await client.request(sample('LAB-ORU-1'));
    expect(ack).toMatchObject({ code: 'AE', acked: '182', errorCodes: ['204'], errorLocation: 'PID^1^3^1^1' });
    expect(await labRows()).toBe(before);
    expect((await getJson(`${his.base}/api/results?mrn=${DUCK}`)).status).toBe(404);
    const { rows } = await his.pool.query(`SELECT OUTCOME, ACK_CD, ERR_CD FROM HL7_INBOUND_LOG WHERE CONTROL_ID = '182'`);
    expect(rows).toEqual([{ outcome: 'ERROR', ack_cd: 'AE', err_cd: 204 }]);
  });

  it('stores the results of each OBR/OBX group once the patient is known; the refused message sent again is applied', async () => {
    expect((await client.request(sample('ADT01-23'))).code).toBe('AA'); // registers DUCK, DONALD
    const ack = await client.request(sample('LAB-ORU-1'));
    expect(ack).toMatchObject({ code: 'AA', acked: '182' });

    const list = await results(DUCK);
    // OBX with status I (specimen in lab, no result) are not results yet: 3 of 5, then 5 of 5
    expect(list.total).toBe(8);
    const collected = await his.localTime('2014-10-06 05:35:00+07:00'); // SPM-17: OBR-7 is empty
    const resulted = await his.localTime('2014-10-06 06:45:00+07:00'); // MSH-7: no OBR-22 or OBX-19
    expect(await byTest(DUCK, '82503246', '11273-0')).toEqual([
      expect.objectContaining({
        admissionId: null,
        testName: 'ERYTHROCYTES',
        value: '4.06',
        units: 'tera.l-1',
        referenceRange: null,
        abnormalFlag: null, // N on a numeric result: the legacy leaves normal numbers unflagged
        status: 'P',
        collectedDate: collected,
        resultDate: resulted,
      }),
    ]);
    expect(await byTest(DUCK, '82503246', '11125-2')).toEqual([expect.objectContaining({ testName: 'PLATELETS', value: '221', status: 'F' })]);
    expect((await results(DUCK)).items.filter((r) => r.orderNumber === '890775544').map((r) => r.testCode).sort()).toEqual([
      '23761-0', '26450-7', '26478-8', '26485-3', '30180-4',
    ]);
    const { rows } = await his.pool.query(`SELECT OUTCOME, ACK_CD, ERR_CD, ATTEMPT_CNT FROM HL7_INBOUND_LOG WHERE CONTROL_ID = '182'`);
    expect(rows).toEqual([{ outcome: 'APPLIED', ack_cd: 'AA', err_cd: null, attempt_cnt: 2 }]);
  });

  it('lets a final result replace the preliminary one, and a corrected result replace the earlier row, instead of adding rows', async () => {
    const before = await labRows();
    const final = await client.request(oru(uniqueControlId('ORU'), DUCK, obr('82503246'), obx(1, 'NM', '11273-0^ERYTHROCYTES^LN', '4.10', 'tera.l-1', '4.2-5.4', 'L', 'F')));
    expect(final.code).toBe('AA');
    expect(await byTest(DUCK, '82503246', '11273-0')).toEqual([
      expect.objectContaining({ value: '4.10', status: 'F', referenceRange: '4.2-5.4', abnormalFlag: 'L', collectedDate: '2024-07-01T06:15:00', resultDate: '2024-07-01T09:00:00' }),
    ]);
    const corrected = await client.request(oru(uniqueControlId('ORU'), DUCK, obr('82503246'), obx(1, 'NM', '11125-2^PLATELETS^LN', '230', 'giga.l-1', '150-400', '', 'C')));
    expect(corrected.code).toBe('AA');
    expect(await byTest(DUCK, '82503246', '11125-2')).toEqual([expect.objectContaining({ value: '230', status: 'C', abnormalFlag: null })]);
    expect(await labRows()).toBe(before);
  });

  it('removes a result sent as deleted (D) or wrong (W)', async () => {
    const ack = await client.request(oru(uniqueControlId('ORU'), DUCK, obr('82503246'), obx(1, 'NM', '20570-8^HEMATOCRIT^LN', '', '', '', '', 'W')));
    expect(ack.code).toBe('AA');
    expect(await byTest(DUCK, '82503246', '20570-8')).toEqual([]);
  });

  it('prints structured numeric and coded values as text, and flags text results', async () => {
    const ack = await client.request(
      oru(
        uniqueControlId('ORU'),
        DUCK,
        obr('L240000777'),
        obx(1, 'SN', '10839-9^TROPONIN I^LN', '<^0.04', 'ng/mL', '<0.04', '', 'F'),
        obx(2, 'CWE', '600-7^BLOOD CULTURE^LN', '3092008^Staphylococcus aureus^SCT', '', 'NO GROWTH', 'A', 'F'),
        obx(3, 'ST', '5778-6^URINE COLOR^LN', 'YELLOW', '', 'YELLOW', 'N', 'F'),
        obx(4, 'NM', '2345-7^GLUCOSE^LN', '612', 'mg/dL', '70-99', 'HH', 'F'),
      ),
    );
    expect(ack.code).toBe('AA');
    const list = (await results(DUCK)).items.filter((r) => r.orderNumber === 'L240000777');
    const value = (test: string) => list.find((r) => r.testCode === test);
    expect(value('10839-9')).toMatchObject({ value: '<0.04', abnormalFlag: null });
    expect(value('600-7')).toMatchObject({ value: 'Staphylococcus aureus', abnormalFlag: 'A', testName: 'BLOOD CULTURE' });
    expect(value('5778-6')).toMatchObject({ value: 'YELLOW', abnormalFlag: 'N' });
    expect(value('2345-7')).toMatchObject({ value: '612', abnormalFlag: 'HH', units: 'mg/dL' });
  });

  it('links results to the stay of PV1-19, and answers the published ORU-R01-01 (enhanced mode, AL) with CA', async () => {
    const admissionId = await sqlValue<number>(his.pool, `SELECT ADM_ID AS v FROM ADMISSION WHERE VISIT_NO = '40007716'`);
    const text = sample('ORU-R01-01').replace('|14^^^IA PHIMS Stage', `|${DUCK}^^^IA PHIMS Stage`);
    const ack = await client.request(text);
    expect(ack).toMatchObject({ code: 'CA', acked: '2.16.840.1.114222.4.3.3.5.1.2-20120314235954.325' });
    // the OBX before the OBR describes the patient, those after the SPM the specimen: one result
    expect(await byTest(DUCK, '986', '625-4')).toEqual([
      expect.objectContaining({
        admissionId,
        testName: 'BACTERIA IDENTIFIED IN STOOL BY CULTURE',
        value: 'Salmonella',
        units: 'beats/min',
        referenceRange: '70-80',
        abnormalFlag: 'A',
        status: 'P',
        collectedDate: await his.localTime('2002-02-15 07:30:00+02:15'), // OBR-7
        resultDate: await his.localTime('2002-03-15 07:30:00+02:15'), // OBR-22
      }),
    ]);
    expect((await results(DUCK)).items.filter((r) => r.orderNumber === '986')).toHaveLength(1);
  });

  it('answers the published sample as it is (MRN 14) with CE 102: not a legacy MRN', async () => {
    const ack = await client.request(sample('ORU-R01-01').replace('20120314235954.325', '20120314235954.999'));
    expect(ack).toMatchObject({ code: 'CE', errorCodes: ['102'], errorLocation: 'PID^1^3^1^1' });
  });

  it('applies a message with several patients in one transaction: one unknown patient and nothing is stored', async () => {
    const before = await labRows();
    const ack = await client.request(
      hl7(
        msh('ORU^R01^ORU_R01', uniqueControlId('ORU')),
        `PID|1||${DUCK}`,
        obr('L240000801'),
        obx(1, 'NM', '2345-7^GLUCOSE^LN', '99', 'mg/dL', '70-99', '', 'F'),
        'PID|2||7999990',
        obr('L240000802'),
        obx(1, 'NM', '2345-7^GLUCOSE^LN', '101', 'mg/dL', '70-99', 'H', 'F'),
      ),
    );
    expect(ack).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'PID^2^3^1^1' });
    expect(await labRows()).toBe(before);
  });

  it('refuses an observation without a status, or without an order number, and stores nothing', async () => {
    const before = await labRows();
    const noStatus = await client.request(oru(uniqueControlId('ORU'), DUCK, obr('L240000803'), obx(1, 'NM', '2345-7^GLUCOSE^LN', '99', 'mg/dL', '', '', '')));
    expect(noStatus).toMatchObject({ code: 'AE', errorCodes: ['101'], errorLocation: 'OBX^1^11' });
    const noOrder = await client.request(oru(uniqueControlId('ORU'), DUCK, 'OBR|1', obx(1, 'NM', '2345-7^GLUCOSE^LN', '99', 'mg/dL', '', '', 'F')));
    expect(noOrder).toMatchObject({ code: 'AE', errorCodes: ['101'], errorLocation: 'OBR^1^3^1^1' });
    expect(await labRows()).toBe(before);
  });
});

describe('ORU^R01: result statuses that change a result held (table 0085)', () => {
  const potassium = (value: string, flag: string, status: string) => obx(1, 'NM', '2823-3^POTASSIUM^LN', value, value ? 'mmol/L' : '', value ? '3.5-5.1' : '', flag, status);
  const cultureObx = (n: number, organism: string, status: string) => obx(n, 'ST', '600-7^BLOOD CULTURE^LN', organism, '', '', organism ? 'A' : '', status);

  it('U makes the preliminary result final as it is: value, units, range and flag stay, the report time is the final one', async () => {
    const prelim = await client.request(oru(uniqueControlId('ORU'), DUCK, obr('L24U00001'), potassium('6.2', 'H', 'P')));
    expect(prelim.code).toBe('AA');
    const before = await labRows();
    // OBX-5 empty, as the standard sends a U ("without retransmitting results already sent as preliminary")
    const u = await client.request(oru(uniqueControlId('ORU'), DUCK, obr('L24U00001', '20240701061500', '20240701120000'), potassium('', '', 'U')));
    expect(u.code).toBe('AA');
    expect(await byTest(DUCK, 'L24U00001', '2823-3')).toEqual([
      expect.objectContaining({
        testName: 'POTASSIUM',
        value: '6.2',
        units: 'mmol/L',
        referenceRange: '3.5-5.1',
        abnormalFlag: 'H',
        status: 'F',
        collectedDate: '2024-07-01T06:15:00',
        resultDate: '2024-07-01T12:00:00',
      }),
    ]);
    expect(await labRows()).toBe(before);
    // sent again (or after the final came): the final result stays as it is
    const again = await client.request(oru(uniqueControlId('ORU'), DUCK, obr('L24U00001', '20240701061500', '20240701130000'), potassium('', '', 'U')));
    expect(again.code).toBe('AA');
    expect(await byTest(DUCK, 'L24U00001', '2823-3')).toEqual([expect.objectContaining({ value: '6.2', status: 'F', resultDate: '2024-07-01T12:00:00' })]);
  });

  it('U for a result never sent: refused AE 204 at its test code, nothing stored; carrying a value, stored as the final result it is', async () => {
    const before = await labRows();
    const empty = await client.request(oru(uniqueControlId('ORU'), DUCK, obr('L24U00002'), potassium('', '', 'U')));
    expect(empty).toMatchObject({ code: 'AE', errorCodes: ['204'], errorLocation: 'OBX^1^3^1^1' });
    expect(await labRows()).toBe(before);
    const carried = await client.request(oru(uniqueControlId('ORU'), DUCK, obr('L24U00002'), potassium('4.4', '', 'U')));
    expect(carried.code).toBe('AA');
    expect(await byTest(DUCK, 'L24U00002', '2823-3')).toEqual([expect.objectContaining({ value: '4.4', units: 'mmol/L', status: 'F' })]);
  });

  it('two organisms of one culture in one message are two results; two U make both final, each keeping its organism', async () => {
    const prelim = await client.request(oru(uniqueControlId('ORU'), DUCK, obr('L24U00003'), cultureObx(1, 'ESCHERICHIA COLI', 'P'), cultureObx(2, 'KLEBSIELLA', 'P')));
    expect(prelim.code).toBe('AA');
    const organisms = async () => (await byTest(DUCK, 'L24U00003', '600-7')).map((r) => [r.value, r.status]).sort();
    expect(await organisms()).toEqual([
      ['ESCHERICHIA COLI', 'P'],
      ['KLEBSIELLA', 'P'],
    ]);
    const u = await client.request(oru(uniqueControlId('ORU'), DUCK, obr('L24U00003'), cultureObx(1, '', 'U'), cultureObx(2, '', 'U')));
    expect(u.code).toBe('AA');
    expect(await organisms()).toEqual([
      ['ESCHERICHIA COLI', 'F'],
      ['KLEBSIELLA', 'F'],
    ]);
    // a correction of both in one message corrects both, not the same row twice
    const c = await client.request(oru(uniqueControlId('ORU'), DUCK, obr('L24U00003'), cultureObx(1, 'E. COLI ESBL', 'C'), cultureObx(2, 'K. PNEUMONIAE', 'C')));
    expect(c.code).toBe('AA');
    expect(await organisms()).toEqual([
      ['E. COLI ESBL', 'C'],
      ['K. PNEUMONIAE', 'C'],
    ]);
  });
});
