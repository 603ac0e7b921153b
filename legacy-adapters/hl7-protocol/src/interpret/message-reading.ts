/**
 * Reading the parts of a message every event needs: the n-th occurrence of a segment, date
 * and time fields (refused when malformed: a wrong date in a clinical record is worse than a
 * refusal), the time of the event, the segments in order, the sending facility as a key, and
 * the patient's MRN.
 */
import { mrnRepetition, type HierarchicDesignator } from '../hl7/header.js';
import type { Hl7Message } from '../hl7/message.js';
import { HL7_NULL, parseDateTime, type ParsedDateTime } from '../hl7/values.js';
import { at, refuse } from './refusal.js';

/** `SEG[n]-rest`: a path into the n-th occurrence of a segment */
export const nth = (segment: string, n: number, rest: string) => `${segment}[${n}]-${rest}`;

/**
 * A date/time field: undefined when empty (or `""`); refused (102) when it is not a valid HL7
 * date/time naming at least a day.
 */
export function dateTimeField(m: Hl7Message, segment: string, n: number, field: number): ParsedDateTime | undefined {
  const raw = m.get(nth(segment, n, `${field}.1`)).trim();
  if (raw === '' || raw === HL7_NULL) return undefined;
  const parsed = parseDateTime(raw);
  if (parsed) return parsed;
  // a year or a month alone (1961, 196107) is a valid DTM, but names no day a record can keep
  if (/^\d{4}(\d{2})?([+-]\d{4})?$/.test(raw)) throw refuse(102, `${segment}-${field} names only a year or a month: a whole day is needed (YYYYMMDD)`, at(segment, n, field));
  throw refuse(102, `${segment}-${field} is not a valid HL7 date/time (YYYYMMDD[HHMM[SS]][+/-ZZZZ])`, at(segment, n, field));
}

/** When the event happened, for a time the message does not give: EVN-6, EVN-2, then MSH-7. */
export function eventTime(m: Hl7Message): ParsedDateTime | undefined {
  for (const path of ['EVN-6.1', 'EVN-2.1', 'MSH-7.1']) {
    const parsed = parseDateTime(m.get(path));
    if (parsed) return parsed;
  }
  return undefined;
}

/** The 1-based occurrence of every segment, in message order: [id, occurrence] */
export function segmentOccurrences(m: Hl7Message): [string, number][] {
  const seen = new Map<string, number>();
  return m.segmentIds.map((id) => {
    const n = (seen.get(id) ?? 0) + 1;
    seen.set(id, n);
    return [id, n];
  });
}

/** Refused (101) when the message has no such segment; `why` says what the segment is for. */
export function requireSegment(m: Hl7Message, segment: string, why: string): void {
  if (m.count(segment) === 0) throw refuse(101, `the ${segment} segment is missing: ${why}`, at(segment, 1));
}

/** MSH-4 (or MSH-3) as a key: namespace ^ universal id ^ type, trailing empty parts left out */
export function facilityKey(hd: HierarchicDesignator): string {
  const parts = [hd.namespaceId, hd.universalId, hd.universalIdType];
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts.join('^');
}

/** The hospital's medical record number: 6 to 10 digits, as its registration system issues them */
export const MRN_PATTERN = /^[0-9]{6,10}$/;

/** An MRN field (PID-3.1, MRG-1.1): missing is refused (101), anything but an MRN too (102). */
export function checkMrn(raw: string, segment: string, n: number, field: number, name: string, repetition = 1): string {
  const mrn = raw.trim();
  if (mrn === '') throw refuse(101, `${name} (the patient's MRN) is missing`, at(segment, n, field, 1, repetition));
  if (!MRN_PATTERN.test(mrn)) throw refuse(102, `${name} is not an MRN (6 to 10 digits)`, at(segment, n, field, 1, repetition));
  return mrn;
}

/** Which repetition of the n-th `segment`'s identifier list `field` (PID-3, MRG-1) holds the MRN (mrnRepetition). */
export function mrnRepetitionOf(m: Hl7Message, segment: string, n: number, field: number): number {
  return mrnRepetition((r, component, sub) => m.get(nth(segment, n, `${field}(${r}).${component}.${sub}`)), m.repetitionCount(nth(segment, n, String(field))));
}

/**
 * Identifier types (HL7 table 0203, CX-5) that name something other than the patient's record
 * at this hospital: national and social security ids, passports, licences, insurance, account
 * and visit numbers, cards. When no repetition is typed MR and the first carries one of these,
 * the list holds no MRN: registering the patient under their social security number (seen on
 * the demo: a PID-3 of one SS repetition made a patient whose MRN was the SSN) puts a national
 * id where every screen and URL shows the MRN, and the sender's next message with the real MRN
 * makes a second patient. Untyped and other types (PI, PT, a local code) are read as the MRN.
 */
const NOT_AN_MRN = new Set(['SS', 'NI', 'NII', 'NH', 'PPN', 'DL', 'HC', 'JHN', 'MA', 'MC', 'MB', 'SN', 'AN', 'VN', 'MI', 'PRC', 'TAX', 'PEN', 'RR', 'WCN', 'EI', 'PCN', 'BA', 'BC', 'CC', 'AM', 'DS', 'MS', 'VS']);
const NATIONAL_PERSON_ID = /^NN[A-Z]{3}$/; // NNxxx: a national person identifier, xxx the country (ISO 3166)

function isNotAnMrnType(identifierType: string): boolean {
  const type = identifierType.trim().toUpperCase();
  return NOT_AN_MRN.has(type) || NATIONAL_PERSON_ID.test(type);
}

/** The MRN in the n-th `segment`'s identifier list `field`: the repetition typed MR, else the first unless typed as another kind of id; checked (checkMrn). */
export function listedMrn(m: Hl7Message, segment: string, n: number, field: number): string {
  const r = mrnRepetitionOf(m, segment, n, field);
  if (r === 0) throw refuse(204, `${segment}-${field} lists no medical record number of this hospital's assigning authorities (HL7_MRN_AUTHORITIES), only other facilities'`, at(segment, n, field));
  const name = r === 1 ? `${segment}-${field}` : `${segment}-${field}(${r})`;
  const id = m.get(nth(segment, n, `${field}(${r}).1`));
  const type = m.get(nth(segment, n, `${field}(${r}).5`)).trim();
  if (id.trim() !== '' && isNotAnMrnType(type)) {
    throw refuse(102, `${segment}-${field} holds no medical record number: ${name} is typed ${type}, another kind of identifier; the MRN is the repetition typed MR (CX-5)`, at(segment, n, field, 5, r));
  }
  return checkMrn(id, segment, n, field, name, r);
}

/** The MRN of the n-th PID: PID-3.1 of its repetition typed MR, else of its first */
export function patientMrn(m: Hl7Message, pid = 1): string {
  return listedMrn(m, 'PID', pid, 3);
}
