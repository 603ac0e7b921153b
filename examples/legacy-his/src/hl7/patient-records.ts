/**
 * PATIENT_MASTER from a PID segment: the registration or update of the patient the message
 * names, with the demographics @ficus/hl7-protocol reads from it.
 */
import { demographicChanges, patientMrn, readDemographics, registration, type DemographicChange, type Demographics, type Hl7Message } from '@ficus/hl7-protocol';
import type pg from 'pg';
import { ADT_USER } from '../contract/index.js';
import { patientFieldValues } from '../patients/patient-store.js';

/** PATIENT_MASTER's column and type of each value an update may write */
const COLUMNS: Record<DemographicChange['field'], [string, string]> = {
  lastName: ['PAT_LAST_NM', 'text'],
  firstName: ['PAT_FIRST_NM', 'text'],
  middleName: ['PAT_MID_NM', 'text'],
  dateOfBirth: ['PAT_DOB', 'date'],
  sex: ['SEX_CD', 'char(1)'],
  line1: ['ADDR_LINE1', 'text'],
  city: ['CITY_NM', 'text'],
  state: ['STATE_CD', 'char(2)'],
  zip: ['ZIP_CD', 'text'],
  phone: ['PHONE_NO', 'text'],
  maritalStatus: ['MARITAL_CD', 'char(1)'],
  active: ['ACTIVE_FLG', 'char(1)'],
};

/**
 * The patient an MRN means now: itself, or the survivor it was merged into (ADT^A40), followed
 * to the end of a chain of merges.
 */
export async function survivorOf(tx: pg.PoolClient, mrn: string): Promise<string> {
  let current = mrn;
  for (let i = 0; i < 16; i++) {
    const { rows } = await tx.query<{ survivor_mrn: string }>(
      'SELECT SURVIVOR_MRN FROM PATIENT_MERGE WHERE MERGED_MRN = $1 ORDER BY MERGE_ID DESC LIMIT 1',
      [current],
    );
    const next = rows[0]?.survivor_mrn;
    if (next === undefined || next === mrn) return current;
    current = next;
  }
  return current;
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
  const created = await tx.query(
    `INSERT INTO PATIENT_MASTER (PAT_MRN, PAT_LAST_NM, PAT_FIRST_NM, PAT_MID_NM, PAT_DOB, SEX_CD, ADDR_LINE1, CITY_NM, STATE_CD, ZIP_CD,
       PHONE_NO, MARITAL_CD, ACTIVE_FLG, LAST_UPD_USER)
     VALUES ($1, $2, $3, $4, $5::date, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (PAT_MRN) DO NOTHING`,
    [mrn, ...patientFieldValues(registration(demographics, pid)), ADT_USER],
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
  const columns: string[] = [];
  const expressions: string[] = [];
  const values: unknown[] = [mrn];
  for (const change of demographicChanges(d)) {
    const [column, type] = COLUMNS[change.field];
    values.push(change.field === 'active' ? 'N' : change.value);
    columns.push(column);
    expressions.push(`$${values.length}::${type}`);
  }
  if (columns.length === 0) return;
  values.push(ADT_USER);
  await tx.query(
    `UPDATE PATIENT_MASTER SET ${columns.map((c, i) => `${c} = ${expressions[i]}`).join(', ')}, LAST_UPD_USER = $${values.length}
      WHERE PAT_MRN = $1 AND ROW(${columns.join(', ')}) IS DISTINCT FROM ROW(${expressions.join(', ')})`,
    values,
  );
}

/**
 * An MRN given by a sending system must never be handed out again by the registration screen
 * (POST /api/patients takes the next PAT_MRN_SEQ value): the sequence is moved past it.
 */
async function keepMrnSequenceAhead(tx: pg.PoolClient, mrn: string): Promise<void> {
  // serialises the read-and-set with other registrations of this kind until commit
  await tx.query(`SELECT pg_advisory_xact_lock(hashtext('PAT_MRN_SEQ'))`);
  await tx.query(`SELECT setval('PAT_MRN_SEQ', $1::bigint) FROM PAT_MRN_SEQ WHERE last_value < $1::bigint`, [mrn]);
}
