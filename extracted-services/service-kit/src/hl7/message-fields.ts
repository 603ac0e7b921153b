/**
 * Reading the parts of a message the handlers need: the n-th occurrence of a segment, date
 * and time fields (refused when malformed: a wrong date in a clinical record is worse than a
 * refusal), the time of the event, and the segments in order.
 */
import { parseDateTime, type Hl7Message, type ParsedDateTime } from '@ficus/hl7-protocol';
import { at, refuse } from './hl7-refusal.js';
import { MRN_PATTERN } from '../http/schema-types.js';

/** `SEG[n]-rest`: a path into the n-th occurrence of a segment */
export const nth = (segment: string, n: number, rest: string) => `${segment}[${n}]-${rest}`;

/** A date/time field: undefined when empty (or `""`); refused (102) when not a valid HL7 date/time naming a day. */
export function dateTimeField(m: Hl7Message, segment: string, n: number, field: number): ParsedDateTime | undefined {
  const raw = m.get(nth(segment, n, `${field}.1`)).trim();
  if (raw === '' || raw === '""') return undefined;
  const parsed = parseDateTime(raw);
  if (!parsed) throw refuse(102, `${segment}-${field} is not a valid HL7 date/time (YYYYMMDD[HHMM[SS]][+/-ZZZZ])`, at(segment, n, field));
  return parsed;
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

export function requireSegment(m: Hl7Message, segment: string, why: string): void {
  if (m.count(segment) === 0) throw refuse(101, `the ${segment} segment is missing: ${why}`, at(segment, 1));
}

/** MSH-4 as written, namespace ^ universal id ^ type, trailing empty parts left out (as the legacy keys merges) */
export function facilityKey(hd: { namespaceId: string; universalId: string; universalIdType: string }): string {
  const parts = [hd.namespaceId, hd.universalId, hd.universalIdType];
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  return parts.join('^');
}

/** An MRN field (PID-3.1, MRG-1.1): 6 to 10 digits, else refused as the legacy refuses it */
export function checkMrn(raw: string, segment: string, n: number, field: number, name: string): string {
  const mrn = raw.trim();
  if (mrn === '') throw refuse(101, `${name} (the patient's MRN) is missing`, at(segment, n, field, 1));
  if (!MRN_PATTERN.test(mrn)) throw refuse(102, `${name} is not an MRN (6 to 10 digits)`, at(segment, n, field, 1));
  return mrn;
}
