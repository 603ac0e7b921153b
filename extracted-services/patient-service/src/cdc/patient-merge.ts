/**
 * A legacy change to a patient the service has changed itself, merged field by field
 * (service-kit's field-merge.ts) instead of replacing the row or being refused whole. It needs
 * the change's before image and to know which fields the service changed (local_changed_fields,
 * kept by API writes and by HL7 messages written back); other changes go the whole-row way of
 * patient-feeds.ts.
 *
 * While the service is the system of record every such change merges. While the legacy holds it,
 * only a change of a row with fields still pending does: an HL7 message the legacy did not get
 * (mode `new`) was applied here and its write-back has not been seen to land. A whole row then
 * would drop the message's change from the service until the write-back's echo came back (and
 * for good with CDC_WRITEBACK_ECHO=drop). The echo itself (origin ficus-writeback) is the
 * legacy's state after the write-back: the latest write-back's is applied whole, which ends the
 * pending state, and an older one's keeps the changes made since (writeback-echoes.ts). A pending
 * field the legacy changed without the service's value then takes the legacy's (field-merge.ts,
 * `yielded`): the legacy writer does not write it over the legacy's edit either.
 *
 * The regime decides who wins a field both changed, so it must be the one the legacy writer goes
 * by: a change with such a field looks at the rule store first (service-kit's merge-regime.ts).
 */
import type pg from 'pg';
import type { ChangeEvent } from '@ficus/contracts';
import { localTimestamp, patientJson, type PatientRecord } from '@ficus/legacy-his/contract';
import { keyValue, mergeFields, mergeInRecordRegime, samePadded, sameValue, WRITEBACK_ORIGIN, type FieldMerge, type SystemOfRecord } from '@ficus/service-kit';
import { PATIENT_COLUMNS } from '../patients/patient-columns.js';
import { LOCAL_CHANGES, type LocalChanges } from '../patients/local-changes.js';
import { PATIENT_DATA_FIELDS, PATIENT_MERGED_FIELDS, patientTopicRow } from './patient-topic.js';

/** the patient column of each merged field, and how the topic's value (text) is written to it */
export const COLUMN_OF: Record<string, { column: string; sql: (p: string) => string }> = {
  lastName: { column: 'family_name', sql: (p) => `${p}::text` },
  firstName: { column: 'given_name', sql: (p) => `${p}::text` },
  middleName: { column: 'middle_name', sql: (p) => `${p}::text` },
  dateOfBirth: { column: 'birth_date', sql: (p) => `${p}::text::date` },
  sex: { column: 'sex', sql: (p) => `${p}::text` },
  addressLine1: { column: 'address_line', sql: (p) => `${p}::text` },
  city: { column: 'city', sql: (p) => `${p}::text` },
  state: { column: 'state', sql: (p) => `${p}::text` },
  zip: { column: 'postal_code', sql: (p) => `${p}::text` },
  phone: { column: 'phone', sql: (p) => `${p}::text` },
  maritalStatus: { column: 'marital_status', sql: (p) => `${p}::text` },
  active: { column: 'active', sql: (p) => `(${p}::text = 'Y')` },
  created: { column: 'created_at', sql: (p) => `COALESCE(${localTimestamp(p)}, created_at)` },
  lastUpdated: { column: 'updated_at', sql: (p) => `COALESCE(${localTimestamp(p)}, updated_at)` },
  lastUpdatedBy: { column: 'updated_by', sql: (p) => `COALESCE(${p}::text, updated_by)` },
};

export interface MergeOutcome {
  /** changes merged here (the rest go the whole-row way) */
  merged: ChangeEvent[];
  /** merged changes in which a field both sides changed kept the service's value, with those fields */
  conflicts: { change: ChangeEvent; fields: string[] }[];
  /** merged changes in which a field both sides changed took the legacy's value (the legacy holding the record), with those fields */
  yielded: { change: ChangeEvent; fields: string[] }[];
  /** the regime the changes were merged in (the store's, when it was looked at again) */
  regime: SystemOfRecord;
}

/**
 * Merges the changes it can (updates with a before image, of rows whose own changes are known
 * by field) in the consumer's transaction; answers which, and the conflicts among them.
 */
export async function mergePatientChanges(tx: pg.PoolClient, upserts: readonly ChangeEvent[], given: SystemOfRecord, recheck?: () => Promise<SystemOfRecord>): Promise<MergeOutcome> {
  const { regime, merges } = await mergeInRecordRegime(given, recheck, (r) => planMerges(tx, upserts, r));
  const outcome: MergeOutcome = { merged: [], conflicts: [], yielded: [], regime };
  for (const { change, m } of merges) {
    await applyMerge(tx, change, m.take, m.pending);
    outcome.merged.push(change);
    const conflicts = m.conflicts.filter((f) => PATIENT_DATA_FIELDS.includes(f));
    if (conflicts.length > 0) outcome.conflicts.push({ change, fields: conflicts });
    const yielded = m.yielded.filter((f) => PATIENT_DATA_FIELDS.includes(f));
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
  const { rows } = await tx.query<PatientRecord & LocalChanges>(
    `SELECT ${PATIENT_COLUMNS}, ${LOCAL_CHANGES} FROM patient p WHERE p.mrn = ANY($1::text[])
        ${legacyHoldsRecord ? 'AND cardinality(p.local_changed_fields) > 0' : ''} ORDER BY p.mrn FOR UPDATE`,
    [candidates.map((c) => keyValue(c, 'mrn'))],
  );
  const current = new Map(rows.filter((r) => r.known).map((r) => [r.mrn, r]));
  return candidates.flatMap((change) => {
    const row = current.get(keyValue(change, 'mrn'));
    if (!row) return [];
    const ours = patientTopicRow(patientJson(row));
    return [{ change, m: mergeFields({ before: change.before!, after: change.after!, ours, pending: new Set(row.pending ?? []), fields: PATIENT_MERGED_FIELDS, legacyHoldsRecord }) }];
  });
}

/** Takes the fields `take` from the change, records it as the legacy's committed state, and leaves `pending` pending. */
export async function applyMerge(tx: pg.PoolClient, change: ChangeEvent, take: readonly string[], pending: readonly string[]): Promise<void> {
  const after = change.after!;
  const values: unknown[] = [keyValue(change, 'mrn'), change.source.position, after.lastUpdated ?? null, change.source.commitTime, pending];
  const set = take.map((f) => {
    values.push(after[f] ?? null);
    return `${COLUMN_OF[f]!.column} = ${COLUMN_OF[f]!.sql(`$${values.length}`)}`;
  });
  await tx.query(
    `UPDATE patient SET ${[...set, 'committed_position = $2', `committed_at = ${localTimestamp('$3')}`, 'committed_source_at = $4::timestamptz', 'local_changed_fields = $5::text[]'].join(', ')}
      WHERE mrn = $1`,
    values,
  );
}

/**
 * The legacy's copy of the service's own write (its echo through CDC), while the service holds
 * the record: the fields it holds as the service does are no longer pending (the legacy has
 * them), and it can carry a stamp the service did not write: the legacy's LAST_UPD_DT trigger
 * stamps the time of the write when the value written equals the old one (two saves of one
 * patient in one second). Where the copy holds exactly the service's data, the service takes
 * its stamp, so that both sides show the same record.
 */
export async function takeEchoStamps(tx: pg.PoolClient, echoes: readonly ChangeEvent[]): Promise<void> {
  const copies = echoes.filter((c) => c.after !== null);
  if (copies.length === 0) return;
  const { rows } = await tx.query<PatientRecord>(`SELECT ${PATIENT_COLUMNS} FROM patient p WHERE p.mrn = ANY($1::text[]) ORDER BY p.mrn FOR UPDATE`, [copies.map((c) => keyValue(c, 'mrn'))]);
  const current = new Map(rows.map((r) => [r.mrn, patientTopicRow(patientJson(r)) as Record<string, unknown>]));
  for (const c of copies) {
    const ours = current.get(keyValue(c, 'mrn'));
    if (!ours) continue;
    const theirs = c.after!;
    const held = PATIENT_MERGED_FIELDS.filter((f) => samePadded(ours[f], theirs[f]));
    const stamps = PATIENT_DATA_FIELDS.every((f) => held.includes(f)) && !(sameValue(ours.lastUpdated, theirs.lastUpdated) && sameValue(ours.lastUpdatedBy, theirs.lastUpdatedBy));
    await tx.query(
      `UPDATE patient SET local_changed_fields = ARRAY(SELECT f FROM unnest(local_changed_fields) AS f WHERE f <> ALL($2::text[]))
              ${stamps ? `, updated_at = ${COLUMN_OF.lastUpdated!.sql('$3')}, updated_by = ${COLUMN_OF.lastUpdatedBy!.sql('$4')}` : ''}
        WHERE mrn = $1`,
      [keyValue(c, 'mrn'), stamps ? [...held, 'lastUpdated', 'lastUpdatedBy'] : held, ...(stamps ? [theirs.lastUpdated ?? null, theirs.lastUpdatedBy ?? null] : [])],
    );
  }
}
