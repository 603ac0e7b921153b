/**
 * Which fields of a patient the service changed itself (API writes and HL7 while it is the
 * system of record) that the legacy has not yet been seen to hold: `local_changed_fields`,
 * valid while `local_fields_at` equals `local_changed_at` (a local change that did not say
 * which fields it made leaves them unknown). patient-merge.ts merges a legacy change with them.
 * Besides, the fields of the latest such change (`local_last_fields`, what its write-back
 * writes whatever the legacy holds): cdc/writeback-echoes.ts tells the echo of that write-back
 * from an older one's.
 */
import type pg from 'pg';
import { writeBackImage } from '@ficus/service-kit';
import { patientJson, type PatientRecord } from '@ficus/legacy-his/contract';
import { changedFields, PATIENT_MERGED_FIELDS, patientTopicRow, type PatientTopicRow } from '../cdc/patient-topic.js';
import { PATIENT_COLUMNS } from './patient-columns.js';

/** what the row says of the service's own changes, read with the row */
export interface LocalChanges {
  pending: string[] | null;
  known: boolean;
  local: boolean;
  /** the fields of the latest local change (null: not recorded, rows changed before migration 003) */
  latest: string[] | null;
}

export const LOCAL_CHANGES = `p.local_changed_fields AS pending, (p.local_changed_at IS NOT NULL AND p.local_fields_at = p.local_changed_at) AS known,
  p.local_changed_at IS NOT NULL AS local, p.local_last_fields AS latest`;

/** A patient's row before a local change: its topic row and what was pending then. */
export interface BeforeLocalChange {
  row: PatientTopicRow;
  earlier: LocalChanges;
}

/** Reads (and locks) the patient before a local change; undefined when there is none. */
export async function beforeLocalChange(tx: pg.PoolClient, mrn: string): Promise<BeforeLocalChange | undefined> {
  const { rows } = await tx.query<PatientRecord & LocalChanges>(`SELECT ${PATIENT_COLUMNS}, ${LOCAL_CHANGES} FROM patient p WHERE p.mrn = $1 FOR UPDATE`, [mrn]);
  const r = rows[0];
  return r && { row: patientTopicRow(patientJson(r)), earlier: { pending: r.pending, known: r.known, local: r.local, latest: r.latest } };
}

/**
 * Records the fields a local change made, after it (local_changed_at stamped): added to those
 * still pending, and as the latest change's; an earlier local change that did not say which
 * counts as all of them. Answers the before image for the outbox: without the pending fields the
 * change did not make, which the write-back writes too where the legacy still holds what the
 * writer last wrote (service-kit's outbox/write-back-image.ts). A new row (no before)
 * has nothing pending: the legacy gets it whole.
 */
export async function noteLocalChange(tx: pg.PoolClient, mrn: string, before: BeforeLocalChange | null, after: PatientTopicRow): Promise<Record<string, unknown> | null> {
  const e = before?.earlier;
  const earlier = !e ? [] : e.known ? (e.pending ?? []) : e.local ? PATIENT_MERGED_FIELDS : [];
  const latest = before ? changedFields(before.row, after) : [];
  const image = before && writeBackImage(before.row, earlier, latest);
  // a change of nothing writes nothing back (no echo): the latest write-back stays the one before
  await tx.query(
    "UPDATE patient SET local_changed_fields = $2::text[], local_fields_at = local_changed_at, local_last_fields = COALESCE(NULLIF($3::text[], '{}'), local_last_fields) WHERE mrn = $1",
    [mrn, image?.pending ?? [], latest],
  );
  return image?.before ?? null;
}
