/**
 * PATIENT_MASTER from a PID segment: the registration or update of the patient the message
 * names, with the demographics @ficus/hl7-protocol reads from it.
 */
import { demographicChanges, followMerges, patientMrn, readDemographics, registration, type Demographics, type Hl7Message } from '@ficus/hl7-protocol';
import type pg from 'pg';
import { ADT_USER, changingWrite, insertedColumns } from '../contract/index.js';
import { patientWrites } from '../patients/patient-store.js';

/** The patient an MRN means now: itself, or the survivor it was merged into (ADT^A40), to the end of a chain. */
export function survivorOf(tx: pg.PoolClient | pg.Pool, mrn: string): Promise<string> {
  return followMerges(mrn, async (merged) => {
    const { rows } = await tx.query<{ survivor_mrn: string }>('SELECT SURVIVOR_MRN FROM PATIENT_MERGE WHERE MERGED_MRN = $1 ORDER BY MERGE_ID DESC LIMIT 1', [merged]);
    return rows[0]?.survivor_mrn;
  });
}

/** Locks the patient's row for the rest of the transaction; false when there is no such patient. */
export async function lockPatient(tx: pg.PoolClient, mrn: string): Promise<boolean> {
  const { rowCount } = await tx.query('SELECT 1 FROM PATIENT_MASTER WHERE PAT_MRN = $1 FOR UPDATE', [mrn]);
  return (rowCount ?? 0) > 0;
}

/**
 * The patient of an event that may register them (A01, A04): the MRN's record (or its
 * survivor's), updated with the demographics sent, or a new record under that MRN.
 * Answers the MRN the event applies to.
 */
export async function registerOrUpdate(tx: pg.PoolClient, m: Hl7Message, pid = 1): Promise<string> {
  const sent = patientMrn(m, pid);
  const demographics = readDemographics(m, pid);
  const mrn = await survivorOf(tx, sent);
  if (await lockPatient(tx, mrn)) {
    await updatePatient(tx, mrn, demographics);
    return mrn;
  }
  const w = insertedColumns(patientWrites(registration(demographics, pid)), 2);
  const created = await tx.query(
    `INSERT INTO PATIENT_MASTER (PAT_MRN, ${w.columns}, LAST_UPD_USER) VALUES ($1, ${w.params}, $${w.values.length + 2}) ON CONFLICT (PAT_MRN) DO NOTHING`,
    [mrn, ...w.values, ADT_USER],
  );
  if ((created.rowCount ?? 0) === 0) {
    // registered by a message on another connection in the meantime: update it instead
    await lockPatient(tx, mrn);
    await updatePatient(tx, mrn, demographics);
    return mrn;
  }
  await keepMrnSequenceAhead(tx, mrn);
  return mrn;
}

/**
 * Writes the demographics the message sends (demographicChanges). A message that changes
 * nothing writes nothing: LAST_UPD_DT, LAST_UPD_USER and the patient's ETag stay as they were.
 */
export async function updatePatient(tx: pg.PoolClient, mrn: string, d: Demographics): Promise<void> {
  const w = changingWrite(patientWrites(demographicChanges(d)), 2);
  if (w.values.length === 0) return;
  await tx.query(`UPDATE PATIENT_MASTER SET ${w.set}, LAST_UPD_USER = $${w.values.length + 2} WHERE PAT_MRN = $1 AND ${w.changes}`, [mrn, ...w.values, ADT_USER]);
}

/**
 * An MRN given by a sending system must never be handed out again by the registration screen
 * (POST /api/patients takes the next PAT_MRN_SEQ value): the sequence is moved past it.
 */
export async function keepMrnSequenceAhead(tx: pg.PoolClient, mrn: string): Promise<void> {
  // serialises the read-and-set with other registrations of this kind until commit
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('PAT_MRN_SEQ'))`);
  await tx.query(`SELECT setval('PAT_MRN_SEQ', $1::bigint) FROM PAT_MRN_SEQ WHERE last_value < $1::bigint`, [mrn]);
}
