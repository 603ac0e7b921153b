/**
 * ADT^A47 (change patient identifier list), as the legacy keeps identifiers: PAT_MRN is the key
 * of PATIENT_MASTER (ADMISSION and LAB_RESULT refer to it) and the only identifier it keeps. A
 * corrected MRN is therefore the patient of MRG-1 re-registered under PID-3's MRN (the record
 * as it was, then PID's demographics as an A08 applies them) and merged into it as an A40
 * merges: stays and results move, the old record is closed, and PATIENT_MERGE makes later
 * messages naming the old MRN find the new one. A PID-3 MRN some record holds already is a
 * merge sent as a correction: refused (205), never merged silently. A change of any other
 * identifier (an account number, another facility's MR) has nothing here to change: the
 * message is applied, and changes nothing.
 */
import { mrnTaken, noPatientToRenumber, readDemographics, readIdentifierChange } from '@ficus/hl7-protocol';
import { ADT_USER } from '../contract/index.js';
import { knownPatient, mergeLockedPatients } from './adt-handlers.js';
import type { MessageContext } from './message-context.js';
import { keepMrnSequenceAhead, updatePatient } from './patient-records.js';

const RECORD = 'PAT_LAST_NM, PAT_FIRST_NM, PAT_MID_NM, PAT_DOB, SEX_CD, ADDR_LINE1, CITY_NM, STATE_CD, ZIP_CD, PHONE_NO, MARITAL_CD, ACTIVE_FLG, CREATE_DT';

export async function changePatientIdentifiers({ tx, message, facility, controlId }: MessageContext): Promise<void> {
  const change = readIdentifierChange(message);
  if (change.kind === 'other') {
    await knownPatient(tx, message);
    return;
  }
  const { correctMrn, incorrectMrn } = change;
  // both rows locked in one order, as a merge locks them; a correct MRN registered meanwhile by
  // another connection fails the insert (unique key), and the message is tried again to find it
  const { rows } = await tx.query<{ pat_mrn: string }>('SELECT PAT_MRN FROM PATIENT_MASTER WHERE PAT_MRN IN ($1, $2) ORDER BY PAT_MRN FOR UPDATE', [correctMrn, incorrectMrn]);
  const found = new Set(rows.map((r) => r.pat_mrn));
  if (!found.has(incorrectMrn)) throw noPatientToRenumber();
  if (found.has(correctMrn)) throw mrnTaken();
  // the registration is the person's, kept: CREATE_DT is when they were registered, not renumbered
  await tx.query(`INSERT INTO PATIENT_MASTER (PAT_MRN, ${RECORD}, LAST_UPD_DT, LAST_UPD_USER) SELECT $1, ${RECORD}, LOCALTIMESTAMP(0), $3 FROM PATIENT_MASTER WHERE PAT_MRN = $2`, [
    correctMrn,
    incorrectMrn,
    ADT_USER,
  ]);
  await keepMrnSequenceAhead(tx, correctMrn);
  await updatePatient(tx, correctMrn, readDemographics(message));
  await mergeLockedPatients(tx, correctMrn, incorrectMrn, facility, controlId);
}
