/**
 * A patient's laboratory results as the legacy contract shows them, newest first (collection
 * time, then id), optionally within collection days; and whether the service holds any.
 */
import type pg from 'pg';
import { labResultJson, sqlTimestamp, type LabResultRecord, type LegacyLabResult, type ResultQuery } from '@ficus/legacy-his/contract';

export async function resultsOf(pool: pg.Pool, q: ResultQuery): Promise<LegacyLabResult[]> {
  const { rows } = await pool.query<LabResultRecord>(
    `SELECT id AS "resultId", mrn, encounter_id AS "admissionId", order_number AS "orderNumber", test_code AS "testCode", test_name AS "testName",
            value, units, reference_range AS "referenceRange", abnormal_flag AS "abnormalFlag", status,
            ${sqlTimestamp('collected_at')} AS "collectedDate", ${sqlTimestamp('resulted_at')} AS "resultDate", ${sqlTimestamp('updated_at')} AS "lastUpdated"
       FROM lab_result
      WHERE mrn = $1
        AND ($2::date IS NULL OR collected_at >= $2::date)
        AND ($3::date IS NULL OR collected_at < $3::date + 1)
      ORDER BY collected_at DESC, id DESC`,
    [q.mrn, q.from ?? null, q.to ?? null],
  );
  return rows.map(labResultJson);
}

export async function hasResults(pool: pg.Pool, mrn: string): Promise<boolean> {
  const { rowCount } = await pool.query('SELECT 1 FROM lab_result WHERE mrn = $1 LIMIT 1', [mrn]);
  return (rowCount ?? 0) > 0;
}
