/**
 * ADT^A06 (an outpatient or emergency visit becomes an inpatient stay: the emergency patient who
 * is admitted) and ADT^A07 (an inpatient stay becomes an outpatient visit), HL7 v2.5.1 3.3.6 and
 * 3.3.7: which stay changes, what it becomes, and the refusals, for the legacy inbound and
 * patient-service alike (the same effect, the legacy's ERR and the service's dead letter in the
 * same words); each then finds the stays in its own tables (StayLookups) and writes them.
 *
 * The stay is the visit being changed, never a new one: the visit of MRG-5 (the prior visit
 * number) when it differs from PV1-19, which then takes PV1-19 as its number; else the visit of
 * PV1-19; else the patient's newest open stay. A message naming no open visit is refused, as an
 * A03 or A13 naming nothing to change is. What it becomes: the class from PV1-2 with PV1-4 as an
 * A01 (A06) or an A04 (A07) makes it, a class the event cannot make refused; the location of
 * PV1-3 when it names one, as a whole (no bed in PV1-3 is no bed: the patient moved, as in an
 * A02); the attending doctor of PV1-7 and the admit time of PV1-44 when sent.
 */
import type { Hl7ErrorLocation } from '../hl7/errors.js';
import type { Hl7Message } from '../hl7/message.js';
import { admissionType, HL7_NULL, type AdmissionType } from '../hl7/values.js';
import { noOpenStay, noStayWithVisitNumber } from './record-refusals.js';
import { at, refuse, type Hl7Refusal } from './refusal.js';
import { readVisit, visitNumber, type VisitChange } from './visit.js';

export type ClassChangeEvent = 'A06' | 'A07';

/** what each event makes of a PV1-2 naming no class (as A01 and A04 do), and the PV1-2 classes that contradict it */
const EVENTS: Record<ClassChangeEvent, { fallback: AdmissionType; becomes: string; contradicting: readonly string[] }> = {
  A06: { fallback: 'I', becomes: 'an inpatient stay', contradicting: ['O', 'R', 'D'] },
  A07: { fallback: 'O', becomes: 'an outpatient visit', contradicting: ['I', 'P', 'B'] },
};

export interface ClassChange {
  /** PV1-19.1 */
  visitNo: string | undefined;
  /** MRG-5.1, when sent and other than PV1-19: the visit changed, renumbered to PV1-19 */
  priorVisitNo: string | undefined;
  /** what the stay's row gets: the class always, the rest when sent (in VisitChange's order) */
  changes: VisitChange[];
}

/** MRG-5 (prior visit number), as PV1-19 is read: undefined when empty or `""`; refused (104) when longer than 20 characters */
function priorVisitNumber(m: Hl7Message): string | undefined {
  if (m.count('MRG') === 0) return undefined;
  const v = m.get('MRG-5.1').trim();
  if (v === '' || v === HL7_NULL) return undefined;
  if (v.length > 20) throw refuse(104, 'MRG-5 (the prior visit number) is longer than 20 characters', at('MRG', 1, 5, 1));
  return v;
}

export function readClassChange(m: Hl7Message, event: ClassChangeEvent): ClassChange {
  const { fallback, becomes, contradicting } = EVENTS[event];
  const patientClass = m.get('PV1-2.1').trim().toUpperCase();
  if (contradicting.includes(patientClass)) {
    throw refuse(102, `PV1-2 (the patient class) contradicts the event: an ${event} makes the visit ${becomes}`, at('PV1', 1, 2));
  }
  const visit = readVisit(m);
  const changes: VisitChange[] = [];
  if (visit.pointOfCare !== undefined) {
    changes.push({ field: 'pointOfCare', value: visit.pointOfCare }, { field: 'bed', value: visit.bed ?? null });
  }
  changes.push({ field: 'admissionType', value: admissionType(patientClass, m.get('PV1-4.1')) ?? fallback });
  if (visit.doctor !== undefined) changes.push({ field: 'doctor', value: visit.doctor });
  if (visit.admitted !== undefined) changes.push({ field: 'admitted', value: visit.admitted });
  const prior = priorVisitNumber(m);
  const visitNo = visitNumber(m);
  return { visitNo, priorVisitNo: prior === visitNo ? undefined : prior, changes };
}

/** how the message named the stay: where a refusal about that stay points */
export type NamedBy = 'MRG-5' | 'PV1-19' | 'open stay';

export interface StayToChange<S> {
  stay: S;
  namedBy: NamedBy;
  /** the visit number the stay takes (PV1-19, when MRG-5 named it) */
  renumber: string | undefined;
}

export interface StayLookups<S> {
  /** the stay with this visit number, any patient's, locked */
  byVisit(visitNo: string): Promise<S | undefined>;
  /** the patient's newest open stay, locked */
  newestOpen(): Promise<S | undefined>;
}

/**
 * The stay the message changes (see above). When MRG-5 names no stay and PV1-19 names one of
 * the patient's, the renumbering was made already (the same change sent again under another
 * control id, or the legacy's copy of it seen first through CDC): that stay is the one.
 */
export async function stayToChange<S extends { mrn: string }>(c: ClassChange, mrn: string, find: StayLookups<S>): Promise<StayToChange<S>> {
  if (c.priorVisitNo !== undefined) {
    const prior = await find.byVisit(c.priorVisitNo);
    if (prior && prior.mrn !== mrn) throw noStayWithPriorVisitNumber();
    if (prior) {
      if (c.visitNo !== undefined && (await find.byVisit(c.visitNo))) throw newVisitNumberTaken();
      return { stay: prior, namedBy: 'MRG-5', renumber: c.visitNo };
    }
    const renumbered = c.visitNo === undefined ? undefined : await find.byVisit(c.visitNo);
    if (!renumbered || renumbered.mrn !== mrn) throw noStayWithPriorVisitNumber();
    return { stay: renumbered, namedBy: 'PV1-19', renumber: undefined };
  }
  if (c.visitNo !== undefined) {
    const stay = await find.byVisit(c.visitNo);
    if (!stay || stay.mrn !== mrn) throw noStayWithVisitNumber();
    return { stay, namedBy: 'PV1-19', renumber: undefined };
  }
  const open = await find.newestOpen();
  if (!open) throw noOpenStay();
  return { stay: open, namedBy: 'open stay', renumber: undefined };
}

const where = (namedBy: NamedBy): Hl7ErrorLocation => (namedBy === 'MRG-5' ? at('MRG', 1, 5, 1) : at('PV1', 1, 19, 1));

/** 204: MRG-5 names no stay of the patient (and PV1-19 none either) */
const noStayWithPriorVisitNumber = (): Hl7Refusal => refuse(204, 'MRG-5: the patient has no stay with this prior visit number', at('MRG', 1, 5, 1));

/** 205: the number the stay of MRG-5 is to take is another stay's */
const newVisitNumberTaken = (): Hl7Refusal => refuse(205, 'PV1-19 (the new visit number) already belongs to another stay', at('PV1', 1, 19, 1));

/** 207: the stay named is discharged: a visit that is over is not changed to another kind (cancel the discharge, A13, first) */
export const classChangeOfDischargedStay = (event: ClassChangeEvent, namedBy: NamedBy): Hl7Refusal =>
  refuse(207, `the stay of ${namedBy === 'MRG-5' ? 'MRG-5' : 'PV1-19'} is discharged: there is no open visit for the ${event} to change (cancel the discharge, A13, first)`, where(namedBy));
