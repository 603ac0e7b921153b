/**
 * LAB_RESULT rows as the contract shows them.
 */
import type pg from 'pg';
import { labResultJson, sqlTimestamp, type LabResultRecord, type LegacyLabResult, type ResultQuery } from '../contract/index.js';

export async function resultsOf(pool: pg.Pool, q: ResultQuery): Promise<LegacyLabResult[]> {
  const { rows } = await pool.query<LabResultRecord>(
    `SELECT RESULT_ID AS "resultId", PAT_MRN AS mrn, ADM_ID AS "admissionId", ORDER_NO AS "orderNumber", TEST_CD AS "testCode", TEST_NM AS "testName",
            RESULT_VAL AS value, UNITS AS units, REF_RANGE AS "referenceRange", ABN_FLAG AS "abnormalFlag", RESULT_STAT_CD AS status,
            ${sqlTimestamp('COLLECT_DT')} AS "collectedDate", ${sqlTimestamp('RESULT_DT')} AS "resultDate", ${sqlTimestamp('LAST_UPD_DT')} AS "lastUpdated"
       FROM LAB_RESULT
      WHERE PAT_MRN = $1
        AND ($2::date IS NULL OR COLLECT_DT >= $2::date)
        AND ($3::date IS NULL OR COLLECT_DT < $3::date + 1)
      ORDER BY COLLECT_DT DESC, RESULT_ID DESC`,
    [q.mrn, q.from ?? null, q.to ?? null],
  );
  return rows.map(labResultJson);
}
