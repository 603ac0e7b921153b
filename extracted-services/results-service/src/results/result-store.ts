/**
 * A patient's laboratory results as the legacy's /api/results shows them, newest first
 * (collection time, then id), optionally within collection days.
 */
import type pg from 'pg';
import { sqlTimestamp } from '@ficus/service-kit';

export interface ApiLabResult {
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
  id: string;
  mrn: string;
  encounter_id: string | null;
  order_number: string;
  test_code: string;
  test_name: string;
  value: string | null;
  units: string | null;
  reference_range: string | null;
  abnormal_flag: ApiLabResult['abnormalFlag'];
  status: ApiLabResult['status'];
  collected_at: string;
  resulted_at: string | null;
  updated_at: string;
}

export async function resultsOf(pool: pg.Pool, q: { mrn: string; from?: string; to?: string }): Promise<ApiLabResult[]> {
  const { rows } = await pool.query<ResultDbRow>(
    `SELECT id, mrn, encounter_id, order_number, test_code, test_name, value, units, reference_range, abnormal_flag, status,
            ${sqlTimestamp('collected_at')} AS collected_at, ${sqlTimestamp('resulted_at')} AS resulted_at, ${sqlTimestamp('updated_at')} AS updated_at
       FROM lab_result
      WHERE mrn = $1
        AND ($2::date IS NULL OR collected_at >= $2::date)
        AND ($3::date IS NULL OR collected_at < $3::date + 1)
      ORDER BY collected_at DESC, id DESC`,
    [q.mrn, q.from ?? null, q.to ?? null],
  );
  return rows.map((r) => ({
    resultId: Number(r.id),
    mrn: r.mrn,
    admissionId: r.encounter_id === null ? null : Number(r.encounter_id),
    orderNumber: r.order_number,
    testCode: r.test_code,
    testName: r.test_name,
    value: r.value,
    units: r.units,
    referenceRange: r.reference_range,
    abnormalFlag: r.abnormal_flag,
    status: r.status,
    collectedDate: r.collected_at,
    resultDate: r.resulted_at,
    lastUpdated: r.updated_at,
  }));
}
