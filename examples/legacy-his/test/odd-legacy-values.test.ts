/**
 * Rows a legacy screen or an old import wrote that PostgreSQL accepts and the API must still
 * answer, the value kept: a BIGINT id beyond 2^53, a birth date after 9999 or BC, a stay
 * discharged at `infinity`. Written straight into the legacy tables, read through the API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LegacyEncounter, LegacyPatient, PatientPage } from '../src/index.js';
import { getJson, startHarness, type Harness } from '../../../test-support/legacy-his.js';

let his: Harness;
beforeAll(async () => {
  his = await startHarness('legacy_odd_values', { patients: 10, seed: 11 });
});
afterAll(async () => {
  await his?.close();
});

/** a patient of the test's own with this birth date (any text PostgreSQL reads as a date) */
async function patientBorn(mrn: string, dob: string): Promise<void> {
  await his.pool.query(
    `INSERT INTO PATIENT_MASTER (PAT_MRN, PAT_LAST_NM, PAT_FIRST_NM, PAT_DOB, SEX_CD, CREATE_DT, LAST_UPD_DT, LAST_UPD_USER)
     VALUES ($1, 'ODDVALUE', 'TEST', $2::date, 'U', TIMESTAMP '2011-03-08 15:43:00', TIMESTAMP '2011-03-08 15:43:00', 'CONVERSION')`,
    [mrn, dob],
  );
}

async function text(path: string): Promise<{ status: number; body: string; type: string | null }> {
  const res = await fetch(`${his.base}${path}`);
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

describe('odd but valid legacy values', () => {
  it('writes a BIGINT result id beyond 2^53 as its exact digits, a number in the JSON text', async () => {
    await patientBorn('9100001', '1970-01-01');
    await his.pool.query(
      `INSERT INTO LAB_RESULT (RESULT_ID, PAT_MRN, ORDER_NO, TEST_CD, TEST_NM, RESULT_VAL, RESULT_STAT_CD, COLLECT_DT)
       VALUES (9007199254740993, '9100001', 'L1', '2160-0', 'CREATININE', '0.70', 'F', TIMESTAMP '2024-07-01 06:00:00'),
              (9223372036854775807, '9100001', 'L2', '2160-0', 'CREATININE', '0.80', 'F', TIMESTAMP '2024-07-02 06:00:00'),
              (9007199254740991, '9100001', 'L0', '2160-0', 'CREATININE', '0.60', 'F', TIMESTAMP '2024-06-30 06:00:00')`,
    );
    const res = await text('/api/results?mrn=9100001');
    expect(res.status).toBe(200);
    expect(res.type).toBe('application/json; charset=utf-8');
    // JSON.parse would round the ids: the text is what a client reads
    expect(res.body).toContain('{"resultId":9223372036854775807,"mrn":"9100001","admissionId":null,"orderNumber":"L2"');
    expect(res.body).toContain('{"resultId":9007199254740993,"mrn":"9100001","admissionId":null,"orderNumber":"L1"');
    expect(res.body).toContain('{"resultId":9007199254740991,"mrn":"9100001"');
    const parsed = JSON.parse(res.body) as { total: number; items: { resultId: unknown }[] };
    expect(parsed.total).toBe(3);
    expect(parsed.items.map((i) => typeof i.resultId)).toEqual(['number', 'number', 'number']);
  });

  it('answers a birth date after 9999 or BC as PostgreSQL writes it, in the read, the search and the export', async () => {
    await patientBorn('9100002', '10000-01-01');
    await patientBorn('9100003', '0044-03-15 BC');
    for (const [mrn, dob] of [
      ['9100002', '10000-01-01'],
      ['9100003', '0044-03-15 BC'],
    ] as const) {
      const one = await getJson<LegacyPatient>(`${his.base}/api/patients/${mrn}`);
      expect(one.status).toBe(200);
      expect(one.body.dateOfBirth).toBe(dob);
      expect(one.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]{27}"$/);
    }
    const found = await getJson<PatientPage>(`${his.base}/api/patients?name=oddvalue`);
    expect(found.status).toBe(200);
    expect(Object.fromEntries(found.body.items.map((p) => [p.mrn, p.dateOfBirth]))).toEqual({ '9100001': '1970-01-01', '9100002': '10000-01-01', '9100003': '0044-03-15 BC' });
    const csv = await text('/export/patients.csv');
    expect(csv.body).toContain('\r\n9100003,ODDVALUE,TEST,,0044-03-15 BC,U,');
  });

  it('keeps a discharge at infinity (a discharge, not an open stay) and times BC or at -infinity', async () => {
    await patientBorn('9100004', '1950-05-05');
    await his.pool.query(
      `INSERT INTO ADMISSION (PAT_MRN, ADM_DT, DSCH_DT, WARD_CD, ADM_TYPE_CD, DSCH_DISP_CD, LAST_UPD_DT) VALUES
         ('9100004', TIMESTAMP '2024-07-01 10:00:00', 'infinity', 'MED1', 'I', '01', TIMESTAMP '2024-07-01 10:00:00'),
         ('9100004', '-infinity', NULL, 'OPD', 'O', NULL, TIMESTAMP '0044-03-15 12:00:00 BC')`,
    );
    const res = await getJson<{ items: LegacyEncounter[] }>(`${his.base}/api/encounters?mrn=9100004`);
    expect(res.status).toBe(200);
    expect(res.body.items.map((e) => [e.admitDate, e.dischargeDate, e.status, e.dischargeDisposition, e.lastUpdated])).toEqual([
      ['2024-07-01T10:00:00', 'infinity', 'DISCHARGED', '01', '2024-07-01T10:00:00'],
      ['-infinity', null, 'ADMITTED', null, '0044-03-15T12:00:00 BC'],
    ]);
  });
});
