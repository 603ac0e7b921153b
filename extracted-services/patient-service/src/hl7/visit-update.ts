/**
 * What a PV1 changes in a known stay (A08, and A01/A04 naming a stay already held), by HL7's
 * rule field by field (sent-fields.ts): PV1-3 location (ward and bed), PV1-2 patient class with
 * PV1-4 admission type (together the stay's class), PV1-7 attending doctor, PV1-44 admit time.
 * The values are read as @ficus/hl7-protocol reads them for the legacy inbound; what differs is
 * when a value is kept. The shared reading makes the class of PV1-2 and PV1-4 as sent, PV1-4
 * empty counting as "not an emergency": an A08 with PV1-2 `I` and no PV1-4 made an emergency
 * admission (A01 with PV1-4 `E`) an elective inpatient stay. And PV1-3 `MED1` without a bed
 * kept the bed of the ward before. The stand-in legacy's inbound still reads them so.
 */
import { admissionType, nth, plainText, readVisit, upperText, type AdmissionType, type Hl7Message, type Update, type VisitChange } from '@ficus/hl7-protocol';
import { fieldSent } from './sent-fields.js';

export interface StayUpdate {
  /** PV1-3.1, upper case; undefined when PV1-3 names no point of care (a stay is never without a ward) */
  pointOfCare: string | undefined;
  /** PV1-3.3: undefined when PV1-3 is empty, null when it is `""` or names no bed */
  bed: Update<string>;
  /** PV1-2, upper case; undefined when empty or `""` (a stay is never without a class) */
  patientClass: string | undefined;
  /** PV1-4, upper case: undefined when empty (keep), null when `""` (no admission type any more) */
  admitType: Update<string>;
  /** PV1-7.1, first repetition: undefined when PV1-7 is empty, null when it is `""` or gives no id */
  doctor: Update<string>;
  /** PV1-44 (ParsedDateTime.timestamp); undefined when empty or `""` (a stay always has an admission) */
  admitted: string | undefined;
}

export function stayUpdate(m: Hl7Message, pv1 = 1): StayUpdate {
  const sent = (field: number) => fieldSent(m, 'PV1', pv1, field);
  const v = (rest: string) => m.get(nth('PV1', pv1, rest));
  const visit = readVisit(m, pv1);
  const location = sent(3);
  const patientClass = upperText(v('2'), 1);
  return {
    pointOfCare: location === 'valued' ? visit.pointOfCare : undefined,
    bed: location === 'empty' ? undefined : location === 'null' ? null : (visit.bed ?? null),
    patientClass: typeof patientClass === 'string' ? patientClass : undefined,
    admitType: upperText(v('4'), 3),
    doctor: ({ empty: undefined, null: null, valued: plainText(v('7.1'), 10) ?? null } as const)[sent(7)],
    admitted: visit.admitted,
  };
}

/**
 * The stay's class after the update, from the class it has (`stored`): PV1-2 and PV1-4 as the
 * shared reading maps them (E emergency; I, P, B inpatient, or emergency with PV1-4 E or A; O,
 * R outpatient; D day case), except that a value not sent is kept. PV1-2 inpatient without
 * PV1-4 keeps an emergency admission an emergency one; PV1-4 emergency without PV1-2 makes an
 * inpatient stay an emergency admission. (PV1-4 other than emergency without PV1-2 keeps an
 * emergency stay: the class alone does not say whether PV1-2 or PV1-4 made it one.)
 */
export function classAfter(stored: AdmissionType, u: StayUpdate): AdmissionType {
  const emergency = u.admitType === 'E' || u.admitType === 'A';
  const byClass = admissionType(u.patientClass ?? '', u.admitType ?? '');
  if (byClass === undefined) return stored === 'I' && emergency ? 'E' : stored;
  if (byClass === 'I' && u.admitType === undefined && stored === 'E') return 'E';
  return byClass;
}

/** What the update writes to a stay of class `stored`, in the order the columns are written. */
export function stayChanges(stored: AdmissionType, u: StayUpdate): VisitChange[] {
  const changes: VisitChange[] = [];
  if (u.pointOfCare !== undefined) changes.push({ field: 'pointOfCare', value: u.pointOfCare });
  if (u.bed !== undefined) changes.push({ field: 'bed', value: u.bed });
  const cls = classAfter(stored, u);
  if (cls !== stored) changes.push({ field: 'admissionType', value: cls });
  if (u.doctor !== undefined) changes.push({ field: 'doctor', value: u.doctor });
  if (u.admitted !== undefined) changes.push({ field: 'admitted', value: u.admitted });
  return changes;
}
