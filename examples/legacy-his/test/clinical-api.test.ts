import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EncounterList, LegacyErrorBody, ResultList } from '../src/index.js';
import { getJson, sqlValue, startHarness, type Harness } from '../../../test-support/legacy-his.js';

let his: Harness;
beforeAll(async () => {
  his = await startHarness('legacy_clinical', { patients: 1500, seed: 7 });
});
afterAll(async () => {
  await his?.close();
});

const descending = (values: string[]) => values.every((v, i) => i === 0 || (values[i - 1] as string) >= v);

describe('GET /api/encounters', () => {
  it("answers the patient's admissions, newest first, with the ward's description", async () => {
    const mrn = await sqlValue<string>(his.pool, `SELECT PAT_MRN AS v FROM ADMISSION GROUP BY PAT_MRN HAVING count(*) >= 3 ORDER BY PAT_MRN LIMIT 1`);
    const { status, body } = await getJson<EncounterList>(`${his.base}/api/encounters?mrn=${mrn}`);
    expect(status).toBe(200);
    expect(body.mrn).toBe(mrn);
    expect(body.total).toBe(await sqlValue<number>(his.pool, `SELECT count(*)::int AS v FROM ADMISSION WHERE PAT_MRN = $1`, [mrn]));
    expect(body.items).toHaveLength(body.total);
    expect(descending(body.items.map((e) => e.admitDate))).toBe(true);
    const first = body.items[0];
    expect(first && Object.keys(first)).toEqual([
      'admissionId', 'mrn', 'admitDate', 'dischargeDate', 'status', 'admissionType', 'ward', 'bed', 'attendingDoctorId', 'dischargeDisposition', 'lastUpdated',
    ]);
    for (const e of body.items) {
      expect(e.mrn).toBe(mrn);
      expect(e.admitDate).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/);
      expect(e.ward.description).toBe(await sqlValue<string>(his.pool, 'SELECT WARD_DESC AS v FROM WARD WHERE WARD_CD = $1', [e.ward.code]));
      expect(['E', 'I', 'O', 'D']).toContain(e.admissionType);
    }
  });

  it('shows a stay still open as ADMITTED, without discharge date or disposition', async () => {
    const mrn = await sqlValue<string>(his.pool, `SELECT PAT_MRN AS v FROM ADMISSION WHERE DSCH_DT IS NULL ORDER BY ADM_ID LIMIT 1`);
    const { body } = await getJson<EncounterList>(`${his.base}/api/encounters?mrn=${mrn}`);
    const open = body.items.filter((e) => e.status === 'ADMITTED');
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ dischargeDate: null, dischargeDisposition: null });
    expect(body.items[0]?.status).toBe('ADMITTED'); // the open stay is the newest
    for (const e of body.items.filter((x) => x.status === 'DISCHARGED')) expect(e.dischargeDisposition).toMatch(/^\d{2}$/);
  });

  it('answers an empty list for a patient never admitted, 404 for an unknown one, 400 without a valid mrn', async () => {
    const never = await sqlValue<string>(his.pool, `SELECT PAT_MRN AS v FROM PATIENT_MASTER P WHERE NOT EXISTS (SELECT 1 FROM ADMISSION A WHERE A.PAT_MRN = P.PAT_MRN) LIMIT 1`);
    expect((await getJson(`${his.base}/api/encounters?mrn=${never}`)).body).toEqual({ mrn: never, total: 0, items: [] });
    const unknown = await getJson(`${his.base}/api/encounters?mrn=999999`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ errorCode: 'ENC-404', errorMessage: 'Patient not found' });
    const missing = await getJson<LegacyErrorBody>(`${his.base}/api/encounters`);
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ errorCode: 'ENC-400', details: [{ field: 'mrn', issue: 'is required' }] });
    const malformed = await getJson<LegacyErrorBody>(`${his.base}/api/encounters?mrn=12ab`);
    expect(malformed.status).toBe(400);
    expect(malformed.body.errorCode).toBe('ENC-400');
  });
});

describe('GET /api/results', () => {
  let mrn: string;
  beforeAll(async () => {
    mrn = await sqlValue<string>(his.pool, `SELECT PAT_MRN AS v FROM LAB_RESULT GROUP BY PAT_MRN ORDER BY count(*) DESC, PAT_MRN LIMIT 1`);
  });

  it("answers the patient's results, newest first, values as printed", async () => {
    const { status, body } = await getJson<ResultList>(`${his.base}/api/results?mrn=${mrn}`);
    expect(status).toBe(200);
    expect(body.total).toBe(await sqlValue<number>(his.pool, `SELECT count(*)::int AS v FROM LAB_RESULT WHERE PAT_MRN = $1`, [mrn]));
    expect(body.total).toBeGreaterThan(10);
    expect(descending(body.items.map((r) => r.collectedDate))).toBe(true);
    const first = body.items[0];
    expect(first && Object.keys(first)).toEqual([
      'resultId', 'mrn', 'admissionId', 'orderNumber', 'testCode', 'testName', 'value', 'units', 'referenceRange', 'abnormalFlag', 'status', 'collectedDate', 'resultDate', 'lastUpdated',
    ]);
    const row = await his.pool.query<{ result_val: string; abn_flag: string | null }>('SELECT RESULT_VAL, ABN_FLAG FROM LAB_RESULT WHERE RESULT_ID = $1', [first?.resultId]);
    expect(first?.value).toBe(row.rows[0]?.result_val);
    expect(first?.abnormalFlag).toBe(row.rows[0]?.abn_flag);
    expect(typeof first?.resultId).toBe('number');
  });

  it('filters on the collection day with from and to (both included)', async () => {
    const all = (await getJson<ResultList>(`${his.base}/api/results?mrn=${mrn}`)).body.items;
    const day = all[Math.floor(all.length / 2)]?.collectedDate.slice(0, 10) as string;
    const from = await getJson<ResultList>(`${his.base}/api/results?mrn=${mrn}&from=${day}`);
    expect(from.body.items).toEqual(all.filter((r) => r.collectedDate.slice(0, 10) >= day));
    const to = await getJson<ResultList>(`${his.base}/api/results?mrn=${mrn}&to=${day}`);
    expect(to.body.items).toEqual(all.filter((r) => r.collectedDate.slice(0, 10) <= day));
    const oneDay = await getJson<ResultList>(`${his.base}/api/results?mrn=${mrn}&from=${day}&to=${day}`);
    expect(oneDay.body.total).toBeGreaterThan(0);
    expect(oneDay.body.items.every((r) => r.collectedDate.startsWith(day))).toBe(true);
  });

  it('answers LAB-400 for bad dates or from after to, LAB-404 for an unknown patient', async () => {
    for (const q of [`mrn=${mrn}&from=2024-02-30`, `mrn=${mrn}&to=yesterday`, `mrn=${mrn}&from=2024-05-02&to=2024-05-01`, 'from=2024-01-01']) {
      const r = await getJson<LegacyErrorBody>(`${his.base}/api/results?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.errorCode, q).toBe('LAB-400');
      expect(r.body.details?.length, q).toBeGreaterThan(0);
    }
    const unknown = await getJson(`${his.base}/api/results?mrn=9999999`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ errorCode: 'LAB-404', errorMessage: 'Patient not found' });
  });
});
