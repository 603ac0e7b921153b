/**
 * A legacy change to a result the service has changed itself, merged field by field
 * (service-kit's field-merge.ts) instead of replacing the row or being refused whole, as
 * patient-service does for patients. It needs the change's before image and to know which fields
 * the service changed (local_changed_fields, noted for every ORU written back); other changes go
 * the whole-row way of results-feed.ts.
 *
 * While the service is the system of record every such change merges. While the legacy holds it,
 * only a change of a result with fields still pending does: an ORU the legacy did not get (its
 * HL7 rule in `new`) was applied here and its write-back has not been seen to land. A whole row
 * then would drop the ORU's value, status and flag from the service until the write-back's echo
 * came back (and for good with CDC_WRITEBACK_ECHO=drop). The echo itself (origin
 * ficus-writeback) is the legacy's state after the write-back: the latest write-back's is
 * applied whole, which ends the pending state, and an older one's keeps the ORU's changes made
 * since (writeback-echoes.ts).
 */
import type pg from 'pg';
import type { ChangeEvent } from '@ficus/contracts';
import { localTimestamp } from '@ficus/legacy-his/contract';
import { keyValue, mergeFields, mergeInRecordRegime, samePadded, sameValue, WRITEBACK_ORIGIN, type FieldMerge, type SystemOfRecord } from '@ficus/service-kit';
import { LOCAL_CHANGES, type LocalChanges } from '../results/local-changes.js';
import { RESULT_DATA_FIELDS, RESULT_MERGED_FIELDS, RESULT_PLACE_FIELDS, RESULT_TOPIC_COLUMNS, RESULT_VERSIONED_FIELDS, type ResultTopicRow } from '../results/result-topic.js';

/** the lab_result column of each merged field, and how the topic's value (text) is written to it */
const COLUMN_OF: Record<string, { column: string; sql: (p: string) => string }> = {
  mrn: { column: 'mrn', sql: (p) => `${p}::text` },
  admissionId: { column: 'encounter_id', sql: (p) => `${p}::text::bigint` },
  orderNumber: { column: 'order_number', sql: (p) => `${p}::text` },
  testCode: { column: 'test_code', sql: (p) => `${p}::text` },
  testName: { column: 'test_name', sql: (p) => `${p}::text` },
  value: { column: 'value', sql: (p) => `${p}::text` },
  units: { column: 'units', sql: (p) => `${p}::text` },
  referenceRange: { column: 'reference_range', sql: (p) => `${p}::text` },
  abnormalFlag: { column: 'abnormal_flag', sql: (p) => `${p}::text` },
  status: { column: 'status', sql: (p) => `${p}::text` },
  collectedDate: { column: 'collected_at', sql: (p) => `COALESCE(${localTimestamp(p)}, collected_at)` },
  resultDate: { column: 'resulted_at', sql: (p) => localTimestamp(p) },
  lastUpdated: { column: 'updated_at', sql: (p) => `COALESCE(${localTimestamp(p)}, updated_at)` },
};

export interface MergeOutcome {
  /** changes merged here (the rest go the whole-row way) */
  merged: ChangeEvent[];
  /** merged changes in which a field both sides changed kept the service's value, with those fields */
  conflicts: { change: ChangeEvent; fields: string[] }[];
  /** merged changes in which a field both sides changed took the legacy's value (the legacy holding the record: field-merge.ts), with those fields */
  yielded: { change: ChangeEvent; fields: string[] }[];
  /** the results merged to where their change files them (patient, order, test): a move the legacy made is applied */
  filedAsChanged: string[];
  /** the regime the changes were merged in (the store's, when it was looked at again) */
  regime: SystemOfRecord;
}

/**
 * Merges the changes it can (updates with a before image, of results whose own changes are known
 * by field) in the consumer's transaction; answers which, and the conflicts among them. A merge
 * with a field both sides changed looks at the rule store first (`recheck`: service-kit's
 * merge-regime.ts), as patient-service's does.
 */
export async function mergeResultChanges(tx: pg.PoolClient, upserts: readonly ChangeEvent[], given: SystemOfRecord, recheck?: () => Promise<SystemOfRecord>): Promise<MergeOutcome> {
  const { regime, merges } = await mergeInRecordRegime(given, recheck, (r) => planMerges(tx, upserts, r));
  const outcome: MergeOutcome = { merged: [], conflicts: [], yielded: [], filedAsChanged: [], regime };
  for (const { change, m } of merges) {
    await applyMerge(tx, change, m.take, m.pending);
    outcome.merged.push(change);
    if (!RESULT_PLACE_FIELDS.some((f) => m.pending.includes(f))) outcome.filedAsChanged.push(keyValue(change, 'resultId'));
    const conflicts = m.conflicts.filter((f) => RESULT_DATA_FIELDS.includes(f));
    if (conflicts.length > 0) outcome.conflicts.push({ change, fields: conflicts });
    const yielded = m.yielded.filter((f) => RESULT_DATA_FIELDS.includes(f));
    if (yielded.length > 0) outcome.yielded.push({ change, fields: yielded });
  }
  return outcome;
}

/** The merges of the changes it can merge in `regime` (their rows locked), nothing written yet. */
async function planMerges(tx: pg.PoolClient, upserts: readonly ChangeEvent[], regime: SystemOfRecord): Promise<{ change: ChangeEvent; m: FieldMerge }[]> {
  const legacyHoldsRecord = regime === 'legacy';
  const candidates = upserts.filter((c) => c.op === 'update' && c.before !== null && c.after !== null && !(legacyHoldsRecord && c.source.origin === WRITEBACK_ORIGIN));
  if (candidates.length === 0) return [];
  // one change per key here (the consumer nets a job's changes of a key into one)
  const { rows } = await tx.query<ResultTopicRow & LocalChanges>(
    `SELECT ${RESULT_TOPIC_COLUMNS}, ${LOCAL_CHANGES} FROM lab_result r WHERE r.id = ANY($1::bigint[])
        ${legacyHoldsRecord ? 'AND cardinality(r.local_changed_fields) > 0' : ''} ORDER BY r.id FOR UPDATE`,
    [candidates.map((c) => keyValue(c, 'resultId'))],
  );
  const current = new Map(rows.filter((r) => r.known).map((r) => [String(r.resultId), r]));
  return candidates.flatMap((change) => {
    const row = current.get(keyValue(change, 'resultId'));
    if (!row) return [];
    return [{ change, m: mergeFields({ before: change.before!, after: change.after!, ours: row, pending: new Set(row.pending ?? []), fields: RESULT_MERGED_FIELDS, legacyHoldsRecord }) }];
  });
}

/** Takes the fields `take` from the change (the version it replaces kept), records it as the legacy's committed state, and leaves `pending` pending. */
export async function applyMerge(tx: pg.PoolClient, change: ChangeEvent, take: readonly string[], pending: readonly string[]): Promise<void> {
  const after = change.after!;
  const id = keyValue(change, 'resultId');
  // the version the merge replaces is kept, as a whole-row change keeps it
  if (take.some((f) => RESULT_VERSIONED_FIELDS.includes(f))) {
    await tx.query(
      `INSERT INTO lab_result_version (result_id, value, units, reference_range, abnormal_flag, status, resulted_at, updated_at, replaced_by)
       SELECT id, value, units, reference_range, abnormal_flag, status, resulted_at, updated_at, 'cdc' FROM lab_result WHERE id = $1`,
      [id],
    );
  }
  const values: unknown[] = [id, change.source.position, after.lastUpdated ?? null, change.source.commitTime, pending];
  const set = take.map((f) => {
    values.push(after[f] ?? null);
    return `${COLUMN_OF[f]!.column} = ${COLUMN_OF[f]!.sql(`$${values.length}`)}`;
  });
  await tx.query(
    `UPDATE lab_result SET ${[
      ...set,
      'provisional = false',
      'committed_position = $2',
      `committed_at = ${localTimestamp('$3')}`,
      'committed_source_at = $4::timestamptz',
      'local_changed_fields = $5::text[]',
    ].join(', ')}
      WHERE id = $1`,
    values,
  );
}

/**
 * The legacy's copy of the service's own write (its echo through CDC), while the service holds
 * the record: the fields it holds as the service does are no longer pending (the legacy has
 * them). It can carry a stamp the service did not write: the legacy's LAST_UPD_DT trigger stamps
 * the time of the write when the value written equals the old one (a write-back in the second of
 * the legacy's last change). Where the copy holds exactly the service's data, the service takes
 * its stamp, so that both sides show the same result.
 */
export async function takeEchoes(tx: pg.PoolClient, echoes: readonly ChangeEvent[]): Promise<void> {
  const copies = echoes.filter((c) => c.after !== null);
  if (copies.length === 0) return;
  const { rows } = await tx.query<ResultTopicRow>(`SELECT ${RESULT_TOPIC_COLUMNS} FROM lab_result r WHERE r.id = ANY($1::bigint[]) ORDER BY r.id FOR UPDATE`, [
    copies.map((c) => keyValue(c, 'resultId')),
  ]);
  const current = new Map(rows.map((r) => [String(r.resultId), r]));
  for (const c of copies) {
    const ours = current.get(keyValue(c, 'resultId'));
    if (!ours) continue;
    const theirs = c.after!;
    const held = RESULT_MERGED_FIELDS.filter((f) => samePadded(ours[f], theirs[f]));
    const stamp = RESULT_DATA_FIELDS.every((f) => held.includes(f)) && !sameValue(ours.lastUpdated, theirs.lastUpdated);
    await tx.query(
      `UPDATE lab_result SET local_changed_fields = ARRAY(SELECT f FROM unnest(local_changed_fields) AS f WHERE f <> ALL($2::text[]))
              ${stamp ? `, updated_at = ${COLUMN_OF.lastUpdated!.sql('$3')}` : ''}
        WHERE id = $1`,
      [keyValue(c, 'resultId'), stamp ? [...held, 'lastUpdated'] : held, ...(stamp ? [theirs.lastUpdated ?? null] : [])],
    );
  }
}
