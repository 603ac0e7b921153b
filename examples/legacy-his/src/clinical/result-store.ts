/**
 * LAB_RESULT rows as the API shows them. RESULT_VAL stays a string: numbers keep the
 * precision the laboratory printed ("0.70", not 0.7) and text results are words.
 */
import type pg from 'pg';
import { sqlTimestamp } from '../http/legacy-format.js';

export interface LegacyLabResult {
  resultId: number;
  mrn: string;
  admissionId: number | null;
  orderNumber: string;
  testCode: string;
  testName: string;
  value: string | null;
  units: string | null;
  referenceRange: string | null;
  abnormalFlag: 'H' | 'L' | 'HH' | 'LL' | 'A' | 'N' | null;
  status: 'F' | 'P' | 'C';
  collectedDate: string;
  resultDate: string | null;
  lastUpdated: string;
}

interface ResultDbRow {
  result_id: string;
  pat_mrn: string;
  adm_id: number | null;
  order_no: string;
  test_cd: string;
  test_nm: string;
  result_val: string | null;
  units: string | null;
  ref_range: string | null;
  abn_flag: LegacyLabResult['abnormalFlag'];
  result_stat_cd: LegacyLabResult['status'];
  collect_dt: string;
  result_dt: string | null;
  last_upd_dt: string;
}

export interface ResultQuery {
  mrn: string;
  /** first collection day included, YYYY-MM-DD */
  from?: string;
  /** last collection day included, YYYY-MM-DD */
  to?: string;
}

export async function resultsOf(pool: pg.Pool, q: ResultQuery): Promise<LegacyLabResult[]> {
  const { rows } = await pool.query<ResultDbRow>(
    `SELECT RESULT_ID, PAT_MRN, ADM_ID, ORDER_NO, TEST_CD, TEST_NM, RESULT_VAL, UNITS, REF_RANGE, ABN_FLAG, RESULT_STAT_CD,
            ${sqlTimestamp('COLLECT_DT')} AS COLLECT_DT, ${sqlTimestamp('RESULT_DT')} AS RESULT_DT, ${sqlTimestamp('LAST_UPD_DT')} AS LAST_UPD_DT
       FROM LAB_RESULT
      WHERE PAT_MRN = $1
        AND ($2::date IS NULL OR COLLECT_DT >= $2::date)
        AND ($3::date IS NULL OR COLLECT_DT < $3::date + 1)
      ORDER BY COLLECT_DT DESC, RESULT_ID DESC`,
    [q.mrn, q.from ?? null, q.to ?? null],
  );
  return rows.map((r) => ({
    // BIGINT arrives as a string; result ids stay far below 2^53
    resultId: Number(r.result_id),
    mrn: r.pat_mrn,
    admissionId: r.adm_id,
    orderNumber: r.order_no,
    testCode: r.test_cd,
    testName: r.test_nm,
    value: r.result_val,
    units: r.units,
    referenceRange: r.ref_range,
    abnormalFlag: r.abn_flag,
    status: r.result_stat_cd,
    collectedDate: r.collect_dt,
    resultDate: r.result_dt,
    lastUpdated: r.last_upd_dt,
  }));
}
