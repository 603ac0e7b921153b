/**
 * ADT cancellations, each inside the message's transaction (see inbound-processor.ts):
 * A13 cancel discharge opens the stay again, A11 cancel admit withdraws it. What either names
 * must be there to cancel: a stay that is not discharged has no discharge to cancel, and an
 * admission is cancelled only by its visit number, while nothing is filed under it.
 */
import { cancelOfDischargedStay, noDischargedStay, noStayWithVisitNumber, noVisitToCancel, requireSegment, resultsFiledUnderStay, stayNotDischarged, visitNumber } from '@ficus/hl7-protocol';
import type pg from 'pg';
import { knownPatient } from './adt-handlers.js';
import type { MessageContext } from './message-context.js';
import { admissionByVisit, newestDischargedAdmissionOf } from './visit-records.js';

/** The patient's stay of this visit number, locked, and whether it is discharged; AE 204 when it is not the patient's. */
async function patientsStay(tx: pg.PoolClient, mrn: string, visitNo: string): Promise<{ admId: number; discharged: boolean }> {
  const stay = await admissionByVisit(tx, visitNo);
  if (!stay || stay.mrn !== mrn) throw noStayWithVisitNumber();
  const { rows } = await tx.query<{ discharged: boolean }>('SELECT DSCH_DT IS NOT NULL AS DISCHARGED FROM ADMISSION WHERE ADM_ID = $1', [stay.admId]);
  return { admId: stay.admId, discharged: rows[0]!.discharged };
}

/**
 * ADT^A13: the stay of PV1-19 (else the patient's newest discharged stay) is open again, its
 * discharge time and disposition cleared.
 */
export async function cancelDischarge({ tx, message }: MessageContext): Promise<void> {
  const mrn = await knownPatient(tx, message);
  requireSegment(message, 'PV1', 'it names the stay');
  const visitNo = visitNumber(message);
  let admId: number | undefined;
  if (visitNo !== undefined) {
    const stay = await patientsStay(tx, mrn, visitNo);
    if (!stay.discharged) throw stayNotDischarged();
    admId = stay.admId;
  } else {
    admId = await newestDischargedAdmissionOf(tx, mrn);
    if (admId === undefined) throw noDischargedStay();
  }
  await tx.query('UPDATE ADMISSION SET DSCH_DT = NULL, DSCH_DISP_CD = NULL WHERE ADM_ID = $1', [admId]);
}

/**
 * ADT^A11: the open stay of PV1-19 is withdrawn (its ADMISSION row deleted). Refused while
 * LAB_RESULT rows are filed under it: results are never dropped or silently left on no stay.
 */
export async function cancelAdmission({ tx, message }: MessageContext): Promise<void> {
  const mrn = await knownPatient(tx, message);
  requireSegment(message, 'PV1', 'it names the stay');
  const visitNo = visitNumber(message);
  if (visitNo === undefined) throw noVisitToCancel();
  const stay = await patientsStay(tx, mrn, visitNo);
  if (stay.discharged) throw cancelOfDischargedStay();
  // the stay's row is locked: a result filed under it now waits for this commit (and then fails its foreign key)
  const results = await tx.query('SELECT 1 FROM LAB_RESULT WHERE ADM_ID = $1 LIMIT 1', [stay.admId]);
  if ((results.rowCount ?? 0) > 0) throw resultsFiledUnderStay();
  await tx.query('DELETE FROM ADMISSION WHERE ADM_ID = $1', [stay.admId]);
}
