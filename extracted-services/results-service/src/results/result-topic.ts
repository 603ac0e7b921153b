/**
 * The `lab-results` topic's row of a result (CDC-TOPICS.md names, the legacy's values), read
 * from lab_result. One mapping for the outbox (write-back), for the fields an ORU changed and
 * for the field-by-field merge of a legacy change, so that the three compare like with like.
 */
import type pg from 'pg';
import { sqlTimestamp } from '@ficus/legacy-his/contract';
import { sameValue } from '@ficus/service-kit';

export type ResultTopicRow = Record<string, unknown>;

/** the topic's columns of lab_result `r` */
export const RESULT_TOPIC_COLUMNS = `r.id::text AS "resultId", r.mrn, r.encounter_id::int AS "admissionId", r.order_number AS "orderNumber", r.test_code AS "testCode",
  r.test_name AS "testName", r.value, r.units, r.reference_range AS "referenceRange", r.abnormal_flag AS "abnormalFlag", r.status,
  ${sqlTimestamp('r.collected_at')} AS "collectedDate", ${sqlTimestamp('r.resulted_at')} AS "resultDate", ${sqlTimestamp('r.updated_at')} AS "lastUpdated"`;

/**
 * The fields merged one by one: all but the key. lastUpdated follows the same rule, so both sides
 * end with the same stamp, but only a result's own fields (RESULT_DATA_FIELDS) make a conflict
 * worth recording.
 */
export const RESULT_MERGED_FIELDS: readonly string[] = [
  'mrn',
  'admissionId',
  'orderNumber',
  'testCode',
  'testName',
  'value',
  'units',
  'referenceRange',
  'abnormalFlag',
  'status',
  'collectedDate',
  'resultDate',
  'lastUpdated',
];
export const RESULT_DATA_FIELDS: readonly string[] = RESULT_MERGED_FIELDS.filter((f) => f !== 'lastUpdated');
/** a change of any of these keeps the version it replaces (lab_result_version) */
export const RESULT_VERSIONED_FIELDS: readonly string[] = ['value', 'units', 'referenceRange', 'abnormalFlag', 'status'];
/** where a result is filed: a legacy change moving it there is how its early copy is recognised (early-partners.ts) */
export const RESULT_PLACE_FIELDS: readonly string[] = ['mrn', 'orderNumber', 'testCode'];

/** The merged fields a change changed, from the rows before and after it. */
export function changedFields(before: ResultTopicRow, after: ResultTopicRow): string[] {
  return RESULT_MERGED_FIELDS.filter((f) => !sameValue(before[f], after[f]));
}

/** A result's topic row now (inside the caller's transaction); undefined when it is gone. */
export async function resultTopicRow(tx: pg.PoolClient, id: string): Promise<ResultTopicRow | undefined> {
  const { rows } = await tx.query<ResultTopicRow>(`SELECT ${RESULT_TOPIC_COLUMNS} FROM lab_result r WHERE r.id = $1`, [id]);
  return rows[0];
}
