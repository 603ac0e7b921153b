/**
 * A patient's demographics from a PID segment, as the legacy registration keeps them: upper
 * case, the legacy's codes, cut to its widths. An update follows HL7's rule: an empty field
 * keeps the stored value, `""` clears it (except for the values a patient cannot be without).
 */
import type { Hl7Message } from '../hl7/message.js';
import { HL7_NULL, maritalCode, plainText, sexCode, stateCode, upperText, zipCode, type Update } from '../hl7/values.js';
import { dateTimeField, mrnRepetitionOf, nth } from './message-reading.js';
import { at, refuse } from './refusal.js';

export type SexCode = 'M' | 'F' | 'U';
export type MaritalCode = 'S' | 'M' | 'D' | 'W' | 'A' | 'U';

export interface Demographics {
  lastName: Update<string>;
  firstName: Update<string>;
  middleName: Update<string>;
  /** YYYY-MM-DD */
  dateOfBirth: Update<string>;
  sex: Update<SexCode>;
  line1: Update<string>;
  city: Update<string>;
  state: Update<string>;
  zip: Update<string>;
  phone: Update<string>;
  maritalStatus: Update<MaritalCode>;
  /** PID-30 death indicator Y: the record is closed (inactive), as the discharge interface does */
  deceased: boolean;
}

export type DemographicField = Exclude<keyof Demographics, 'deceased'>;

export function readDemographics(m: Hl7Message, pid = 1): Demographics {
  const v = (rest: string) => m.get(nth('PID', pid, rest));
  const dob = dateTimeField(m, 'PID', pid, 7);
  return {
    lastName: upperText(v('5.1.1'), 35),
    firstName: upperText(v('5.2'), 25),
    middleName: upperText(v('5.3'), 25),
    dateOfBirth: dob?.date,
    sex: sexCode(v('8')),
    line1: addressLine(m, pid),
    city: upperText(v('11.3'), 30),
    state: stateCode(v('11.4')),
    zip: zipCode(v('11.5')),
    phone: phoneNumber(m, pid),
    maritalStatus: maritalCode(v('16.1')),
    deceased: v('30').trim().toUpperCase() === 'Y',
  };
}

/** XAD-1 (street address & street name & dwelling number) and XAD-2 (other designation), one line */
function addressLine(m: Hl7Message, pid: number): Update<string> {
  const v = (rest: string) => m.get(nth('PID', pid, rest)).trim();
  if (v('11.1.1') === HL7_NULL) return null;
  const parts = [v('11.1.1'), v('11.1.2'), v('11.1.3'), v('11.2')].filter((p) => p !== '' && p !== HL7_NULL);
  return parts.length === 0 ? undefined : upperText(parts.join(' '), 55);
}

/** PID-13, first repetition: XTN-1 as written, else area code and local number (XTN-6, XTN-7) */
function phoneNumber(m: Hl7Message, pid: number): Update<string> {
  const v = (rest: string) => m.get(nth('PID', pid, rest)).trim();
  const written = plainText(v('13.1'), 20);
  if (written !== undefined) return written;
  const area = v('13.6');
  const local = v('13.7');
  if (local === '') return undefined;
  const number = /^\d{7}$/.test(local) ? `${local.slice(0, 3)}-${local.slice(3)}` : local;
  return plainText(area === '' ? number : `${area}-${number}`, 20);
}

/** the order in which the fields are written */
const FIELDS: readonly DemographicField[] = ['lastName', 'firstName', 'middleName', 'dateOfBirth', 'sex', 'line1', 'city', 'state', 'zip', 'phone', 'maritalStatus'];

/** what a patient cannot be without: an explicit null (`""`) for them is ignored */
const NOT_CLEARABLE = new Set<DemographicField>(['lastName', 'firstName', 'dateOfBirth', 'sex']);

/**
 * What an update of a known patient writes: each value the PID sends (null clears one), and
 * `active: false` when PID-30 says the patient died; the fields not sent are absent. Empty when
 * the PID sends nothing.
 */
export function demographicChanges(d: Demographics): Partial<PatientRegistration> {
  const changes: Partial<Record<keyof PatientRegistration, unknown>> = {};
  for (const field of FIELDS) {
    const value = d[field];
    if (value === undefined || (value === null && NOT_CLEARABLE.has(field))) continue;
    changes[field] = value;
  }
  if (d.deceased) changes.active = false;
  return changes as Partial<PatientRegistration>;
}

/** A new patient's record, from the demographics of the message that registers them. */
export interface PatientRegistration {
  lastName: string;
  firstName: string;
  middleName: string | null;
  dateOfBirth: string;
  sex: SexCode;
  line1: string | null;
  city: string | null;
  state: string | null;
  zip: string | null;
  phone: string | null;
  maritalStatus: MaritalCode | null;
  active: boolean;
}

/**
 * The record of a patient an event registers (A01, A04 of an unknown MRN): the family name,
 * given name and date of birth are needed (101 when missing), sex unknown when not given.
 */
export function registration(d: Demographics, pid = 1): PatientRegistration {
  if (typeof d.lastName !== 'string') throw refuse(101, 'PID-5 (the family name) is needed to register a patient', at('PID', pid, 5, 1));
  if (typeof d.firstName !== 'string') throw refuse(101, 'PID-5.2 (the given name) is needed to register a patient', at('PID', pid, 5, 2));
  if (typeof d.dateOfBirth !== 'string') throw refuse(101, 'PID-7 (the date of birth) is needed to register a patient', at('PID', pid, 7));
  return {
    lastName: d.lastName,
    firstName: d.firstName,
    middleName: d.middleName ?? null,
    dateOfBirth: d.dateOfBirth,
    sex: d.sex ?? 'U',
    line1: d.line1 ?? null,
    city: d.city ?? null,
    state: d.state ?? null,
    zip: d.zip ?? null,
    phone: d.phone ?? null,
    maritalStatus: d.maritalStatus ?? null,
    active: !d.deceased,
  };
}

export interface OtherIdentifier {
  /** CX-4.1, the assigning authority */
  authority: string;
  /** CX-5, the identifier type */
  type: string;
  value: string;
}

/** PID-3 repetitions besides the MRN's: other facilities' MRNs, insurance numbers… */
export function otherIdentifiers(m: Hl7Message, pid = 1): OtherIdentifier[] {
  const field = nth('PID', pid, '3');
  const mrn = mrnRepetitionOf(m, 'PID', pid, 3);
  const found: OtherIdentifier[] = [];
  for (let r = 1; r <= m.repetitionCount(field); r++) {
    if (r === mrn) continue;
    const value = m.get(`${field}(${r}).1`).trim();
    if (value === '' || value === HL7_NULL) continue;
    found.push({ authority: m.get(`${field}(${r}).4.1`).trim(), type: m.get(`${field}(${r}).5`).trim(), value });
  }
  return found;
}
