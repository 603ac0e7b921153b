/**
 * PATIENT_MASTER from a PID segment: the MRN (PID-3, first identifier), the demographics as
 * the legacy stores them (upper case, legacy codes, cut to the column widths), and the
 * registration or update of the patient.
 */
import type { Hl7Message } from '@ficus/hl7-protocol';
import type pg from 'pg';
import { dateTimeField, nth } from './message-context.js';
import { at, HL7_NULL, maritalCode, MRN, plainText, refuse, sexCode, stateCode, upperText, zipCode, type Update } from './hl7-values.js';

/** LAST_UPD_USER of everything the ADT interface writes (the seed's registrations use it too) */
export const ADT_USER = 'ADT_IFACE';

/** The MRN of the n-th PID: PID-3.1 of its first repetition, 6 to 10 digits */
export function patientMrn(m: Hl7Message, pid = 1): string {
  return checkMrn(m.get(nth('PID', pid, '3.1')), 'PID', pid, 3, 'PID-3');
}

export function checkMrn(raw: string, segment: string, n: number, field: number, name: string): string {
  const mrn = raw.trim();
  if (mrn === '') throw refuse(101, `${name} (the patient's MRN) is missing`, at(segment, n, field, 1));
  if (!MRN.test(mrn)) throw refuse(102, `${name} is not a legacy MRN (6 to 10 digits)`, at(segment, n, field, 1));
  return mrn;
}

export interface Demographics {
  lastName: Update<string>;
  firstName: Update<string>;
  middleName: Update<string>;
  /** YYYY-MM-DD */
  dateOfBirth: Update<string>;
  sex: Update<'M' | 'F' | 'U'>;
  line1: Update<string>;
  city: Update<string>;
  state: Update<string>;
  zip: Update<string>;
  phone: Update<string>;
  maritalStatus: Update<string>;
  /** PID-30 death indicator Y: the record is closed (ACTIVE_FLG N), as the discharge interface does */
  deceased: boolean;
}

export function readDemographics(m: Hl7Message, pid = 1): Demographics {
  const v = (rest: string) => m.get(nth('PID', pid, rest));
  const dob = dateTimeField(m, 'PID', pid, 7);
  return {
    lastName: upperText(v('5.1.1'), 35),
    firstName: upperText(v('5.2'), 25),
    middleName: upperText(v('5.3'), 25),
    dateOfBirth: dob?.date,
    sex: sexCode(v('8')),
    line1: addressLine(m, pid),
    city: upperText(v('11.3'), 30),
    state: stateCode(v('11.4')),
    zip: zipCode(v('11.5')),
    phone: phoneNumber(m, pid),
    maritalStatus: maritalCode(v('16.1')),
    deceased: v('30').trim().toUpperCase() === 'Y',
  };
}

/** XAD-1 (street address & street name & dwelling number) and XAD-2 (other designation), one line */
function addressLine(m: Hl7Message, pid: number): Update<string> {
  const v = (rest: string) => m.get(nth('PID', pid, rest)).trim();
  if (v('11.1.1') === HL7_NULL) return null;
  const parts = [v('11.1.1'), v('11.1.2'), v('11.1.3'), v('11.2')].filter((p) => p !== '' && p !== HL7_NULL);
  return parts.length === 0 ? undefined : upperText(parts.join(' '), 55);
}

/** PID-13, first repetition: XTN-1 as written, else area code and local number (XTN-6, XTN-7) */
function phoneNumber(m: Hl7Message, pid: number): Update<string> {
  const v = (rest: string) => m.get(nth('PID', pid, rest)).trim();
  const written = plainText(v('13.1'), 20);
  if (written !== undefined) return written;
  const area = v('13.6');
  const local = v('13.7');
  if (local === '') return undefined;
  const number = /^\d{7}$/.test(local) ? `${local.slice(0, 3)}-${local.slice(3)}` : local;
  return plainText(area === '' ? number : `${area}-${number}`, 20);
}

const COLUMNS: [keyof Omit<Demographics, 'deceased'>, string, string][] = [
  ['lastName', 'PAT_LAST_NM', 'text'],
  ['firstName', 'PAT_FIRST_NM', 'text'],
  ['middleName', 'PAT_MID_NM', 'text'],
  ['dateOfBirth', 'PAT_DOB', 'date'],
  ['sex', 'SEX_CD', 'char(1)'],
  ['line1', 'ADDR_LINE1', 'text'],
  ['city', 'CITY_NM', 'text'],
  ['state', 'STATE_CD', 'char(2)'],
  ['zip', 'ZIP_CD', 'text'],
  ['phone', 'PHONE_NO', 'text'],
  ['maritalStatus', 'MARITAL_CD', 'char(1)'],
];

/** columns that cannot be cleared: an explicit null (`""`) for them is ignored */
const NOT_NULL = new Set(['lastName', 'firstName', 'dateOfBirth', 'sex']);

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
  if (typeof demographics.lastName !== 'string') throw refuse(101, 'PID-5 (the family name) is needed to register a patient', at('PID', pid, 5, 1));
  if (typeof demographics.firstName !== 'string') throw refuse(101, 'PID-5.2 (the given name) is needed to register a patient', at('PID', pid, 5, 2));
  if (typeof demographics.dateOfBirth !== 'string') throw refuse(101, 'PID-7 (the date of birth) is needed to register a patient', at('PID', pid, 7));
  const created = await tx.query(
    `INSERT INTO PATIENT_MASTER (PAT_MRN, PAT_LAST_NM, PAT_FIRST_NM, PAT_MID_NM, PAT_DOB, SEX_CD, ADDR_LINE1, CITY_NM, STATE_CD, ZIP_CD,
       PHONE_NO, MARITAL_CD, ACTIVE_FLG, LAST_UPD_USER)
     VALUES ($1, $2, $3, $4, $5::date, $6, $7, $8, $9, $10, $11, $12, $13, $14)
     ON CONFLICT (PAT_MRN) DO NOTHING`,
    [
      mrn,
      demographics.lastName,
      demographics.firstName,
      demographics.middleName ?? null,
      demographics.dateOfBirth,
      demographics.sex ?? 'U',
      demographics.line1 ?? null,
      demographics.city ?? null,
      demographics.state ?? null,
      demographics.zip ?? null,
      demographics.phone ?? null,
      demographics.maritalStatus ?? null,
      demographics.deceased ? 'N' : 'Y',
      ADT_USER,
    ],
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
 * Replaces the demographics the message sends (an empty field keeps the stored value, `""`
 * clears it). A message that changes nothing writes nothing: LAST_UPD_DT, LAST_UPD_USER and
 * the patient's ETag stay as they were.
 */
export async function updatePatient(tx: pg.PoolClient, mrn: string, d: Demographics): Promise<void> {
  const columns: string[] = [];
  const expressions: string[] = [];
  const values: unknown[] = [mrn];
  for (const [key, column, type] of COLUMNS) {
    const value = d[key];
    if (value === undefined || (value === null && NOT_NULL.has(key))) continue;
    values.push(value);
    columns.push(column);
    expressions.push(`$${values.length}::${type}`);
  }
  if (d.deceased) {
    columns.push('ACTIVE_FLG');
    expressions.push(`'N'`);
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
