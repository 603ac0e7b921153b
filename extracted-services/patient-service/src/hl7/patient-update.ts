/**
 * What a PID changes in a known patient's record (A08, and A01/A04 naming a patient already
 * registered), by HL7's rule field by field (sent-fields.ts): PID-5 name, PID-7 birth date,
 * PID-8 sex, PID-11 address, PID-13 phone, PID-16 marital status. The values themselves are
 * read as @ficus/hl7-protocol reads them for the legacy inbound (upper case, the legacy's codes
 * and widths); what differs from that reading is when a value is kept or deleted. The shared
 * reading judges each component on its own, so an A08 whose PID-11 was `""` deleted the
 * street and kept the city, state and ZIP code (a half address), and one sending a new street
 * without a ZIP code kept the old one. The stand-in legacy's inbound still reads it so.
 */
import {
  nth,
  plainText,
  readDemographics,
  registration,
  type DemographicField,
  type Demographics,
  type Hl7Message,
  type PatientRegistration,
} from '@ficus/hl7-protocol';
import { fieldSent } from './sent-fields.js';

/** the PID fields an update maps, each with the record's values it holds */
const PID_FIELDS: readonly { field: number; values: readonly DemographicField[] }[] = [
  { field: 5, values: ['lastName', 'firstName', 'middleName'] },
  { field: 7, values: ['dateOfBirth'] },
  { field: 8, values: ['sex'] },
  { field: 11, values: ['line1', 'city', 'state', 'zip'] },
  { field: 13, values: ['phone'] },
  { field: 16, values: ['maritalStatus'] },
];

/** what a patient cannot be without: kept when the field deletes it or gives none */
const NOT_CLEARABLE = new Set<DemographicField>(['lastName', 'firstName', 'dateOfBirth']);

/** what `""` makes of a value that cannot be empty: PID-8 `""` is sex unknown, as the legacy reads it */
const DELETED: Partial<Record<DemographicField, PatientRegistration[DemographicField]>> = { sex: 'U' };

/** The demographics of the n-th PID, with the phone number read as patientUpdate reads it. */
export function readPatient(m: Hl7Message, pid = 1): Demographics {
  return { ...readDemographics(m, pid), phone: phoneNumber(m, pid) };
}

/** The record of a patient the message registers (A01, A04 of an unknown MRN). */
export function patientRegistration(m: Hl7Message, pid = 1): PatientRegistration {
  return registration(readPatient(m, pid), pid);
}

/**
 * The values the n-th PID changes: a field left empty changes none of its values, `""` deletes
 * all of them (those a patient can be without), a field sent gives each of them (null where it
 * has none). PID-30 `Y` closes the record. Empty when the PID changes nothing.
 */
export function patientUpdate(m: Hl7Message, pid = 1): Partial<PatientRegistration> {
  const read = readPatient(m, pid);
  const changes: Partial<Record<DemographicField, unknown>> & { active?: boolean } = {};
  for (const { field, values } of PID_FIELDS) {
    const sent = fieldSent(m, 'PID', pid, field);
    if (sent === 'empty') continue;
    for (const name of values) {
      const value = sent === 'null' ? (DELETED[name] ?? null) : (read[name] ?? null);
      if (value === null && NOT_CLEARABLE.has(name)) continue;
      changes[name] = value;
    }
  }
  if (read.deceased) changes.active = false;
  return changes as Partial<PatientRegistration>;
}

/**
 * PID-13: the first repetition holding a telephone number, XTN-1 as written, else the area
 * code and local number (XTN-6, XTN-7); an e-mail address (XTN-2 NET, XTN-3 Internet or X.400)
 * is none. Undefined when no repetition holds one. The shared reading looks at the first
 * repetition only: a PID-13 sent with an e-mail address first would delete the number after it.
 */
function phoneNumber(m: Hl7Message, pid: number): string | undefined {
  const field = nth('PID', pid, '13');
  for (let r = 1; r <= m.repetitionCount(field); r++) {
    const v = (component: number) => m.get(`${field}(${r}).${component}`).trim();
    if (v(2).toUpperCase() === 'NET' || ['INTERNET', 'X.400'].includes(v(3).toUpperCase())) continue;
    const written = plainText(v(1), 20);
    if (typeof written === 'string') return written;
    const [area, local] = [v(6), v(7)];
    if (local === '' || local === '""') continue;
    const number = /^\d{7}$/.test(local) ? `${local.slice(0, 3)}-${local.slice(3)}` : local;
    const phone = plainText(area === '' || area === '""' ? number : `${area}-${number}`, 20);
    if (typeof phone === 'string') return phone;
  }
  return undefined;
}
