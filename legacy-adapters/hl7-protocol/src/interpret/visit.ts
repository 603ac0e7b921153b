/**
 * A stay from a PV1 segment: the visit number (PV1-19) that finds a stay again, the point of
 * care and bed (PV1-3), the kind of stay (PV1-2, PV1-4), the attending doctor (PV1-7), the
 * admission (PV1-44) and the discharge (PV1-45, PV1-36). An empty field keeps what is stored.
 */
import type { Hl7Message } from '../hl7/message.js';
import { admissionType, dispositionCode, HL7_NULL, plainText, upperText, type AdmissionType, type Update } from '../hl7/values.js';
import { dateTimeField, eventTime, nth } from './message-reading.js';
import { at, refuse } from './refusal.js';

/** the ward of a point of care that is neither a ward code nor a known alias of one */
export const UNKNOWN_WARD = 'UNK';

export interface VisitFields {
  /** PV1-19.1; undefined when the sender gives none */
  visitNo: string | undefined;
  /** PV1-3.1, upper case: a ward code, an alias of one, or else UNKNOWN_WARD (the store maps it) */
  pointOfCare: string | undefined;
  /** PV1-3.3 */
  bed: Update<string>;
  /** PV1-2 (and PV1-4); undefined when PV1-2 is empty or a class without a code */
  admissionType: AdmissionType | undefined;
  /** PV1-7.1, first repetition */
  doctor: Update<string>;
  /** PV1-44 as a ParsedDateTime.timestamp; undefined when empty */
  admitted: string | undefined;
}

/** The visit number of the n-th PV1, or undefined; refused (104) when longer than 20 characters */
export function visitNumber(m: Hl7Message, pv1 = 1): string | undefined {
  const v = m.get(nth('PV1', pv1, '19.1')).trim();
  if (v === '' || v === HL7_NULL) return undefined;
  if (v.length > 20) throw refuse(104, 'PV1-19 (the visit number) is longer than 20 characters', at('PV1', pv1, 19, 1));
  return v;
}

export function readVisit(m: Hl7Message, pv1 = 1): VisitFields {
  const v = (rest: string) => m.get(nth('PV1', pv1, rest));
  const pointOfCare = upperText(v('3.1'), 40);
  return {
    visitNo: visitNumber(m, pv1),
    pointOfCare: typeof pointOfCare === 'string' ? pointOfCare : undefined,
    bed: upperText(v('3.3'), 6),
    admissionType: admissionType(v('2'), v('4')),
    doctor: plainText(v('7.1'), 10),
    admitted: dateTimeField(m, 'PV1', pv1, 44)?.timestamp,
  };
}

/** An A04's PV1 describes a visit: a class other than N, a point of care, a visit number or an admit time. */
export function describesVisit(m: Hl7Message): boolean {
  if (m.count('PV1') === 0) return false;
  const v = (rest: string) => m.get(nth('PV1', 1, rest)).trim();
  const patientClass = v('2').toUpperCase();
  return (patientClass !== '' && patientClass !== 'N') || v('3.1') !== '' || v('19.1') !== '' || v('44.1') !== '';
}

/** When a new stay began: PV1-44, else EVN-6, EVN-2, MSH-7 (refused, 101, when none is given) */
export function admissionTime(m: Hl7Message, visit: VisitFields, pv1 = 1): string {
  const admitted = visit.admitted ?? eventTime(m)?.timestamp;
  if (admitted === undefined) throw refuse(101, 'PV1-44 (the admit date/time) is missing, and so are EVN-6, EVN-2 and MSH-7', at('PV1', pv1, 44));
  return admitted;
}

export type VisitChange =
  | { field: 'pointOfCare'; value: string }
  | { field: 'bed'; value: string | null }
  | { field: 'admissionType'; value: AdmissionType }
  | { field: 'doctor'; value: string | null }
  | { field: 'admitted'; value: string };

/** What an update of a known stay writes: each value the PV1 sends, in this order. */
export function visitChanges(visit: VisitFields): VisitChange[] {
  const changes: VisitChange[] = [];
  if (visit.pointOfCare !== undefined) changes.push({ field: 'pointOfCare', value: visit.pointOfCare });
  if (visit.bed !== undefined) changes.push({ field: 'bed', value: visit.bed });
  if (visit.admissionType !== undefined) changes.push({ field: 'admissionType', value: visit.admissionType });
  if (visit.doctor !== undefined) changes.push({ field: 'doctor', value: visit.doctor });
  if (visit.admitted !== undefined) changes.push({ field: 'admitted', value: visit.admitted });
  return changes;
}

export interface Discharge {
  /** PV1-36 (table 0112), two digits */
  disposition: string;
  /** PV1-45, else EVN-6, EVN-2, MSH-7, as a ParsedDateTime.timestamp */
  discharged: string;
}

/** ADT^A03's discharge: the disposition is needed (101) and must be a code (103); so is a time (101). */
export function readDischarge(m: Hl7Message): Discharge {
  const rawDisposition = m.get('PV1-36.1').trim();
  if (rawDisposition === '') throw refuse(101, 'PV1-36 (the discharge disposition) is missing', at('PV1', 1, 36));
  const disposition = dispositionCode(rawDisposition);
  if (disposition === undefined) throw refuse(103, 'PV1-36 is not a discharge disposition code (table 0112, two digits)', at('PV1', 1, 36));
  const discharged = (dateTimeField(m, 'PV1', 1, 45) ?? eventTime(m))?.timestamp;
  if (discharged === undefined) throw refuse(101, 'PV1-45 (the discharge date/time) is missing, and so are EVN-6, EVN-2 and MSH-7', at('PV1', 1, 45));
  return { disposition, discharged };
}
