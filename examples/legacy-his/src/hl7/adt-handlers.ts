/**
 * ADT events: A01 admit, A04 register, A08 update patient information, A28 add person
 * information, A31 update person information, A06/A07 change an outpatient to an inpatient and
 * back, A03 discharge, A40 merge patients (the cancellations A11 and A13 are in
 * adt-cancels.ts, A47's change of identifier in identifier-change.ts). Each runs inside the
 * message's transaction (see inbound-processor.ts).
 */
import { classChangeOfDischargedStay, describesVisit, dischargedBeforeAdmission, mergeIntoItself, mergePairs, noOpenStay, noPatientToMerge, noStayWithVisitNumber, noSurvivor, patientMrn, readClassChange, readDemographics, readDischarge, readVisit, requireSegment, stayToChange, unknownPatient, visitNumber, type ClassChangeEvent, type Hl7Message } from '@ficus/hl7-protocol';
import type pg from 'pg';
import { ADT_USER, localTimestamp } from '../contract/index.js';
import type { MessageContext, MessageHandler } from './message-context.js';
import { lockPatient, registerOrUpdate, survivorOf, updatePatient } from './patient-records.js';
import { admissionByVisit, admitOrUpdate, isDischarged, openAdmissionOf, updateVisit, writeVisit } from './visit-records.js';

/** The patient the message names (or the survivor of a merge), locked; AE 204 when unknown. */
export async function knownPatient(tx: pg.PoolClient, m: Hl7Message): Promise<string> {
  requireSegment(m, 'PID', 'it names the patient');
  const mrn = await survivorOf(tx, patientMrn(m));
  if (!(await lockPatient(tx, mrn))) throw unknownPatient();
  return mrn;
}

/** ADT^A01: register or update the patient, and admit them (a new stay, or the stay of PV1-19). */
export async function admitPatient({ tx, message }: MessageContext): Promise<void> {
  requireSegment(message, 'PID', 'it names the patient');
  requireSegment(message, 'PV1', 'it describes the stay');
  const mrn = await registerOrUpdate(tx, message);
  await admitOrUpdate(tx, message, mrn, 'I');
}

/** ADT^A04: register or update the patient, and record the visit when the PV1 describes one. */
export async function registerPatient({ tx, message }: MessageContext): Promise<void> {
  requireSegment(message, 'PID', 'it names the patient');
  const mrn = await registerOrUpdate(tx, message);
  if (describesVisit(message)) await admitOrUpdate(tx, message, mrn, 'O');
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
 * ADT^A28: a person a master patient index added (or sent again): registered, or updated as
 * A04 updates a known patient. No stay is made or touched, whatever PV1 it carries: a person
 * is not a visit.
 */
export async function addPersonInformation({ tx, message }: MessageContext): Promise<void> {
  requireSegment(message, 'PID', 'it names the patient');
  await registerOrUpdate(tx, message);
}

/**
 * ADT^A31: the demographics of a known patient, as an A08 updates them (a person's record, from
 * a master patient index: no stay is touched, whatever PV1 it carries).
 */
export async function updatePersonInformation({ tx, message }: MessageContext): Promise<void> {
  const mrn = await knownPatient(tx, message);
  await updatePatient(tx, mrn, readDemographics(message));
}

/**
 * ADT^A06 (an outpatient or emergency visit becomes an inpatient stay) and ADT^A07 (the
 * reverse): the visit the message names changes class, location, doctor and admit time as
 * @ficus/hl7-protocol's class-change.ts reads them, and takes PV1-19 as its number when MRG-5
 * named it. Never a new stay: a message naming no open visit of the patient is refused.
 */
export const changePatientClass =
  (event: ClassChangeEvent): MessageHandler =>
  async ({ tx, message }) => {
    const mrn = await knownPatient(tx, message);
    requireSegment(message, 'PV1', 'it names the visit');
    const change = readClassChange(message, event);
    const { stay, namedBy, renumber } = await stayToChange(change, mrn, {
      byVisit: (visitNo) => admissionByVisit(tx, visitNo),
      newestOpen: async () => {
        const admId = await openAdmissionOf(tx, mrn);
        return admId === undefined ? undefined : { admId, mrn };
      },
    });
    if (await isDischarged(tx, stay.admId)) throw classChangeOfDischargedStay(event, namedBy);
    await writeVisit(tx, stay.admId, change.changes, renumber);
  };

/**
 * ADT^A03: discharge the stay of PV1-19 (or, without one, the patient's newest open stay):
 * DSCH_DT and DSCH_DISP_CD as readDischarge reads them.
 */
export async function dischargePatient({ tx, message }: MessageContext): Promise<void> {
  const mrn = await knownPatient(tx, message);
  requireSegment(message, 'PV1', 'it names the stay');
  const visitNo = visitNumber(message);
  let admId: number | undefined;
  if (visitNo !== undefined) {
    const stay = await admissionByVisit(tx, visitNo);
    if (!stay || stay.mrn !== mrn) throw noStayWithVisitNumber();
    admId = stay.admId;
  } else {
    admId = await openAdmissionOf(tx, mrn);
    if (admId === undefined) throw noOpenStay();
  }
  const { disposition, discharged } = readDischarge(message);
  const { rows } = await tx.query<{ before: boolean }>(`SELECT ${localTimestamp('$2')} < ADM_DT AS BEFORE FROM ADMISSION WHERE ADM_ID = $1`, [admId, discharged]);
  if (rows[0]?.before) throw dischargedBeforeAdmission();
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
  for (const { pair, survivorMrn, mergedMrn: merged } of mergePairs(message)) {
    const survivor = await survivorOf(tx, survivorMrn);
    if (survivor === merged) throw mergeIntoItself(pair);
    // both rows locked, always in the same order, so two merges never deadlock
    const { rows } = await tx.query<{ pat_mrn: string }>('SELECT PAT_MRN FROM PATIENT_MASTER WHERE PAT_MRN IN ($1, $2) ORDER BY PAT_MRN FOR UPDATE', [
      survivor,
      merged,
    ]);
    const found = new Set(rows.map((r) => r.pat_mrn));
    if (!found.has(survivor)) throw noSurvivor(pair);
    if (!found.has(merged)) throw noPatientToMerge(pair);
    await mergeLockedPatients(tx, survivor, merged, facility, controlId);
  }
}

/**
 * What a merge does once both patients' rows are locked (A40, and A47's change of MRN): the
 * merged patient's stays and results move to the survivor, the record is closed, and the merge
 * is recorded with the message that made it.
 */
export async function mergeLockedPatients(tx: pg.PoolClient, survivor: string, merged: string, facility: string, controlId: string): Promise<void> {
  const admissions = await tx.query('UPDATE ADMISSION SET PAT_MRN = $1 WHERE PAT_MRN = $2', [survivor, merged]);
  const results = await tx.query('UPDATE LAB_RESULT SET PAT_MRN = $1 WHERE PAT_MRN = $2', [survivor, merged]);
  await tx.query(`UPDATE PATIENT_MASTER SET ACTIVE_FLG = 'N', LAST_UPD_USER = $2 WHERE PAT_MRN = $1 AND ACTIVE_FLG <> 'N'`, [merged, ADT_USER]);
  await tx.query(
    `INSERT INTO PATIENT_MERGE (SURVIVOR_MRN, MERGED_MRN, ADM_CNT, RESULT_CNT, SEND_FACILITY, CONTROL_ID) VALUES ($1, $2, $3, $4, $5, $6)`,
    [survivor, merged, admissions.rowCount ?? 0, results.rowCount ?? 0, facility, controlId],
  );
}
