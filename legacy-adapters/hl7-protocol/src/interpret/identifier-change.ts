/**
 * ADT^A47 (change patient identifier list): PID-3 carries the correct identifier, MRG-1 the
 * incorrect one (HL7 v2.5.1 3.3.47). The MRN is the key of a patient's record everywhere, so a
 * change of it is a record re-registered under PID-3's MRN and merged into (as A40 merges):
 * never onto a record PID-3's MRN already holds, which would be a merge sent as a correction.
 * Any other identifier (an account number, another facility's MR) is not a key: it changes where
 * a receiver keeps it, and is nothing to a receiver that does not.
 */
import type { Hl7Message } from '../hl7/message.js';
import { HL7_NULL } from '../hl7/values.js';
import { listedMrn, mrnRepetitionOf, nth, patientMrn, requireSegment } from './message-reading.js';
import { at, Hl7Refusal, refuse } from './refusal.js';

/** One identifier of MRG-1 besides an MRN, with what PID-3 lists of its authority and type. */
export interface OtherIdentifierChange {
  /** CX-4.1, the assigning authority ('' when none) */
  authority: string;
  /** CX-5, the identifier type ('' when none) */
  type: string;
  /** the incorrect value, as MRG-1 lists it */
  from: string;
  /** the correct value: PID-3's identifier of the same authority and type, undefined when it lists none */
  to: string | undefined;
}

export type IdentifierChange =
  /** the MRN: the record of `incorrectMrn` (MRG-1) is to be known by `correctMrn` (PID-3) */
  | { kind: 'mrn'; correctMrn: string; incorrectMrn: string }
  /** identifiers besides the MRN, of the patient of PID-3's MRN (`mrn`, as sent: merges are the receiver's to follow) */
  | { kind: 'other'; mrn: string; changes: OtherIdentifierChange[] };

/**
 * MRG-1's MRN, or undefined when it lists none of this hospital's: only other facilities' MRs
 * (HL7_MRN_AUTHORITIES), or an identifier typed as another kind (listedMrn's refusal at CX-5).
 */
function mrgMrn(m: Hl7Message): string | undefined {
  if (mrnRepetitionOf(m, 'MRG', 1, 1) === 0) return undefined;
  try {
    return listedMrn(m, 'MRG', 1, 1);
  } catch (e) {
    if (e instanceof Hl7Refusal && e.error.location?.segment === 'MRG' && e.error.location.component === 5) return undefined;
    throw e;
  }
}

/** The identifiers of a CX list field, in order, empty and `""` ones left out. */
function identifiers(m: Hl7Message, segment: string, field: number): { authority: string; type: string; value: string }[] {
  const path = nth(segment, 1, String(field));
  const found: { authority: string; type: string; value: string }[] = [];
  for (let r = 1; r <= m.repetitionCount(path); r++) {
    const value = m.get(`${path}(${r}).1`).trim();
    if (value === '' || value === HL7_NULL) continue;
    found.push({ authority: m.get(`${path}(${r}).4.1`).trim(), type: m.get(`${path}(${r}).5`).trim(), value });
  }
  return found;
}

const sameKind = (a: { authority: string; type: string }, b: { authority: string; type: string }) =>
  a.authority.toUpperCase() === b.authority.toUpperCase() && a.type.toUpperCase() === b.type.toUpperCase();

/** What an A47 changes (its first PID and MRG: the message holds one patient). */
export function readIdentifierChange(m: Hl7Message): IdentifierChange {
  requireSegment(m, 'PID', 'it holds the correct identifier');
  requireSegment(m, 'MRG', 'it holds the incorrect identifier');
  const incorrectMrn = mrgMrn(m);
  const mrn = patientMrn(m);
  if (incorrectMrn !== undefined) {
    if (incorrectMrn === mrn) throw refuse(102, 'MRG-1 names the MRN of PID-3 itself: there is no identifier to change', at('MRG', 1, 1, 1));
    return { kind: 'mrn', correctMrn: mrn, incorrectMrn };
  }
  const listed = identifiers(m, 'PID', 3);
  const changes = identifiers(m, 'MRG', 1).map(({ authority, type, value }) => ({
    authority,
    type,
    from: value,
    to: listed.find((p) => sameKind(p, { authority, type }))?.value,
  }));
  return { kind: 'other', mrn, changes };
}

/** 204: MRG-1's MRN is no patient's (after no merge: the record to renumber is the one named) */
export const noPatientToRenumber = (): Hl7Refusal => refuse(204, 'MRG-1: no patient with this MRN', at('MRG', 1, 1, 1));

/**
 * 205: PID-3's MRN is a patient's already. Two records of one person are merged by an A40,
 * which says which survives; an A47 never merges silently.
 */
export const mrnTaken = (): Hl7Refusal =>
  refuse(205, 'PID-3: a patient with this MRN exists already: an A47 does not merge two records (send an A40)', at('PID', 1, 3, 1));
