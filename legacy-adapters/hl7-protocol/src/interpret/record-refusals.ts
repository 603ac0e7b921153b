/**
 * The refusals a receiver raises once it has looked a message's keys up in its own records
 * (a patient, a stay, a merge): the same code, location and words wherever the message is
 * applied, so that the legacy inbound's ERR and a service's dead letter say the same thing.
 */
import { at, refuse, type Hl7Refusal } from './refusal.js';

/** 204: the MRN of the n-th PID (after merges) is no patient's */
export const unknownPatient = (pid = 1): Hl7Refusal => refuse(204, 'PID-3: no patient with this MRN', at('PID', pid, 3, 1));

/** 205: the visit number of a new stay is another patient's */
export const visitOfAnotherPatient = (pv1 = 1): Hl7Refusal => refuse(205, 'PV1-19 (the visit number) already belongs to another patient', at('PV1', pv1, 19, 1));

/** 204: the patient has no stay with PV1-19's visit number */
export const noStayWithVisitNumber = (): Hl7Refusal => refuse(204, 'PV1-19: the patient has no stay with this visit number', at('PV1', 1, 19, 1));

/** 204: PV1-19 is empty, and the patient has no open stay to take its place */
export const noOpenStay = (): Hl7Refusal => refuse(204, 'PV1-19 is empty and the patient has no open stay', at('PV1', 1, 19, 1));

/** 102: PV1-44 would put the admission after the stay's discharge */
export const admittedAfterDischarge = (pv1 = 1): Hl7Refusal => refuse(102, 'PV1-44 (the admit date/time) is after the discharge of this stay', at('PV1', pv1, 44));

/** 102: the discharge time is before the stay's admission */
export const dischargedBeforeAdmission = (): Hl7Refusal => refuse(102, 'PV1-45 (the discharge date/time) is before the admission', at('PV1', 1, 45));

/** 102: the pair's MRG-1 is (after merges) the surviving patient */
export const mergeIntoItself = (pair: number): Hl7Refusal => refuse(102, 'MRG-1 names the surviving patient itself', at('MRG', pair, 1, 1));

/** 204: the pair's PID-3 is no patient's */
export const noSurvivor = (pair: number): Hl7Refusal => refuse(204, 'PID-3: no surviving patient with this MRN', at('PID', pair, 3, 1));

/** 204: the pair's MRG-1 is no patient's */
export const noPatientToMerge = (pair: number): Hl7Refusal => refuse(204, 'MRG-1: no patient with this MRN to merge', at('MRG', pair, 1, 1));

/** 204: an OBX-11 U makes final a result sent before, and the order has no result of this test (final-status.ts) */
export const noResultToFinalize = (obx: number): Hl7Refusal =>
  refuse(204, 'OBX-11 is U (make final the result sent before) but the order has no result of this OBX-3 test', at('OBX', obx, 3, 1));

/** 204: an A13 without PV1-19, and the patient has no discharged stay whose discharge it could cancel */
export const noDischargedStay = (): Hl7Refusal => refuse(204, 'PV1-19 is empty and the patient has no discharged stay', at('PV1', 1, 19, 1));

/** 207: an A13 names a stay that is not discharged: there is no discharge to cancel */
export const stayNotDischarged = (): Hl7Refusal => refuse(207, 'the stay of PV1-19 is not discharged: there is no discharge to cancel', at('PV1', 1, 19, 1));

/** 101: an A11 withdraws a stay only by its visit number, never by a guess at which stay was meant */
export const noVisitToCancel = (): Hl7Refusal => refuse(101, 'PV1-19 (the visit number of the admission to cancel) is missing', at('PV1', 1, 19, 1));

/** 207: an A11 names a discharged stay: its discharge is cancelled first (A13) */
export const cancelOfDischargedStay = (): Hl7Refusal =>
  refuse(207, 'the stay of PV1-19 is discharged: cancel the discharge (A13) before the admission', at('PV1', 1, 19, 1));

/**
 * 207: an A11 names a stay that results are filed under. Withdrawing the stay would leave them
 * on no stay, or (an admission entered on the wrong patient) on the wrong chart unnoticed: a
 * person moves them first, then the A11 is sent again.
 */
export const resultsFiledUnderStay = (): Hl7Refusal =>
  refuse(207, 'results are filed under the stay of PV1-19: the admission is not cancelled until they are moved', at('PV1', 1, 19, 1));
