/**
 * ADT events: A01 admit, A04 register, A08 update patient information, A03 discharge, A40
 * merge patients. Each runs inside the message's transaction (see inbound-processor.ts).
 */
import type { Hl7Message } from '@ficus/hl7-protocol';
import type pg from 'pg';
import { dateTimeField, eventTime, nth, type MessageContext } from './message-context.js';
import { at, dispositionCode, localTimestamp, refuse } from './hl7-values.js';
import { ADT_USER, checkMrn, lockPatient, patientMrn, readDemographics, registerOrUpdate, survivorOf, updatePatient } from './patient-records.js';
import { admissionByVisit, admitOrUpdate, openAdmissionOf, readVisit, updateVisit, visitNumber } from './visit-records.js';

function requireSegment(m: Hl7Message, segment: string, why: string): void {
  if (m.count(segment) === 0) throw refuse(101, `the ${segment} segment is missing: ${why}`, at(segment, 1));
}

/** The patient the message names (or the survivor of a merge), locked; AE 204 when unknown. */
async function knownPatient(tx: pg.PoolClient, m: Hl7Message): Promise<string> {
  requireSegment(m, 'PID', 'it names the patient');
  const mrn = await survivorOf(tx, patientMrn(m));
  if (!(await lockPatient(tx, mrn))) throw refuse(204, 'PID-3: no patient with this MRN', at('PID', 1, 3, 1));
  return mrn;
}

/** ADT^A01: register or update the patient, and admit them (a new stay, or the stay of PV1-19). */
export async function admitPatient({ tx, message }: MessageContext): Promise<void> {
  requireSegment(message, 'PID', 'it names the patient');
  requireSegment(message, 'PV1', 'it describes the stay');
  const mrn = await registerOrUpdate(tx, message);
  await admitOrUpdate(tx, message, mrn, 'I');
}

/**
 * ADT^A04: register or update the patient, and record the visit when the PV1 describes one
 * (a patient class other than N, a point of care, a visit number or a date).
 */
export async function registerPatient({ tx, message }: MessageContext): Promise<void> {
  requireSegment(message, 'PID', 'it names the patient');
  const mrn = await registerOrUpdate(tx, message);
  if (message.count('PV1') === 0) return;
  const v = (rest: string) => message.get(nth('PV1', 1, rest)).trim();
  const patientClass = v('2').toUpperCase();
  const describesVisit = (patientClass !== '' && patientClass !== 'N') || v('3.1') !== '' || v('19.1') !== '' || v('44.1') !== '';
  if (describesVisit) await admitOrUpdate(tx, message, mrn, 'O');
}

/**
 * ADT^A08: update the demographics of a known patient and, when the PV1 names one of their
 * stays by visit number, that stay. A visit number the legacy does not know is left alone
 * (the demographics are still applied).
 */
export async function updatePatientInformation({ tx, message }: MessageContext): Promise<void> {
  const mrn = await knownPatient(tx, message);
  await updatePatient(tx, mrn, readDemographics(message));
  if (message.count('PV1') === 0) return;
  const visitNo = visitNumber(message);
  if (visitNo === undefined) return;
  const stay = await admissionByVisit(tx, visitNo);
  if (stay && stay.mrn === mrn) await updateVisit(tx, stay.admId, readVisit(message));
}

/**
 * ADT^A03: discharge the stay of PV1-19 (or, without one, the patient's newest open stay):
 * DSCH_DT from PV1-45 (else EVN-6, EVN-2, MSH-7), DSCH_DISP_CD from PV1-36.
 */
export async function dischargePatient({ tx, message }: MessageContext): Promise<void> {
  const mrn = await knownPatient(tx, message);
  requireSegment(message, 'PV1', 'it names the stay');
  const visitNo = visitNumber(message);
  let admId: number | undefined;
  if (visitNo !== undefined) {
    const stay = await admissionByVisit(tx, visitNo);
    if (!stay || stay.mrn !== mrn) throw refuse(204, 'PV1-19: the patient has no stay with this visit number', at('PV1', 1, 19, 1));
    admId = stay.admId;
  } else {
    admId = await openAdmissionOf(tx, mrn);
    if (admId === undefined) throw refuse(204, 'PV1-19 is empty and the patient has no open stay', at('PV1', 1, 19, 1));
  }
  const rawDisposition = message.get('PV1-36.1').trim();
  if (rawDisposition === '') throw refuse(101, 'PV1-36 (the discharge disposition) is missing', at('PV1', 1, 36));
  const disposition = dispositionCode(rawDisposition);
  if (disposition === undefined) throw refuse(103, 'PV1-36 is not a discharge disposition code (table 0112, two digits)', at('PV1', 1, 36));
  const discharged = (dateTimeField(message, 'PV1', 1, 45) ?? eventTime(message))?.timestamp;
  if (discharged === undefined) throw refuse(101, 'PV1-45 (the discharge date/time) is missing, and so are EVN-6, EVN-2 and MSH-7', at('PV1', 1, 45));

  const { rows } = await tx.query<{ before: boolean }>(`SELECT ${localTimestamp('$2')} < ADM_DT AS BEFORE FROM ADMISSION WHERE ADM_ID = $1`, [admId, discharged]);
  if (rows[0]?.before) throw refuse(102, 'PV1-45 (the discharge date/time) is before the admission', at('PV1', 1, 45));
  await tx.query(
    `UPDATE ADMISSION SET DSCH_DT = ${localTimestamp('$2')}, DSCH_DISP_CD = $3::char(2)
      WHERE ADM_ID = $1 AND ROW(DSCH_DT, DSCH_DISP_CD) IS DISTINCT FROM ROW(${localTimestamp('$2')}, $3::char(2))`,
    [admId, discharged, disposition],
  );
}

/**
 * ADT^A40: for each PID/MRG pair, the patient of MRG-1 is merged into the patient of PID-3:
 * their stays and results move to the survivor, their record is closed (ACTIVE_FLG N), and
 * the merge is recorded in PATIENT_MERGE.
 */
export async function mergePatients({ tx, message, facility, controlId }: MessageContext): Promise<void> {
  requireSegment(message, 'PID', 'it names the surviving patient');
  requireSegment(message, 'MRG', 'it names the patient merged away');
  const pairs = message.count('PID');
  for (let i = 1; i <= pairs; i++) {
    if (i > message.count('MRG')) throw refuse(101, `PID ${i} has no MRG segment`, at('MRG', i));
    const survivor = await survivorOf(tx, patientMrn(message, i));
    const merged = checkMrn(message.get(nth('MRG', i, '1.1')), 'MRG', i, 1, 'MRG-1');
    if (survivor === merged) throw refuse(102, 'MRG-1 names the surviving patient itself', at('MRG', i, 1, 1));
    // both rows locked, always in the same order, so two merges never deadlock
    const { rows } = await tx.query<{ pat_mrn: string }>('SELECT PAT_MRN FROM PATIENT_MASTER WHERE PAT_MRN IN ($1, $2) ORDER BY PAT_MRN FOR UPDATE', [
      survivor,
      merged,
    ]);
    const found = new Set(rows.map((r) => r.pat_mrn));
    if (!found.has(survivor)) throw refuse(204, 'PID-3: no surviving patient with this MRN', at('PID', i, 3, 1));
    if (!found.has(merged)) throw refuse(204, 'MRG-1: no patient with this MRN to merge', at('MRG', i, 1, 1));

    const admissions = await tx.query('UPDATE ADMISSION SET PAT_MRN = $1 WHERE PAT_MRN = $2', [survivor, merged]);
    const results = await tx.query('UPDATE LAB_RESULT SET PAT_MRN = $1 WHERE PAT_MRN = $2', [survivor, merged]);
    await tx.query(`UPDATE PATIENT_MASTER SET ACTIVE_FLG = 'N', LAST_UPD_USER = $2 WHERE PAT_MRN = $1 AND ACTIVE_FLG <> 'N'`, [merged, ADT_USER]);
    await tx.query(
      `INSERT INTO PATIENT_MERGE (SURVIVOR_MRN, MERGED_MRN, ADM_CNT, RESULT_CNT, SEND_FACILITY, CONTROL_ID) VALUES ($1, $2, $3, $4, $5, $6)`,
      [survivor, merged, admissions.rowCount ?? 0, results.rowCount ?? 0, facility, controlId],
    );
  }
}
