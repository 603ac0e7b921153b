/**
 * The patient resource as the legacy API reads and writes it (README, "The patient object"):
 * its JSON shape in the contract's key order, made from a store's neutral record, and the
 * schemas of what a client may send.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { PatientRegistration } from '@ficus/hl7-protocol';
import { CalendarDate, Codes, Mrn, Nullable, NullableCodes } from './schema-types.js';

export const SEX_CODES = ['M', 'F', 'U'] as const;
export type SexCode = (typeof SEX_CODES)[number];
/** S single, M married, D divorced, W widowed, A separated, U unknown */
export const MARITAL_CODES = ['S', 'M', 'D', 'W', 'A', 'U'] as const;
export type MaritalCode = (typeof MARITAL_CODES)[number];

/** letters, then letters, spaces, apostrophes, hyphens or periods: O'BRIEN, SMITH-JONES, ST. JOHN */
const personName = (maxLength: number) =>
  Type.String({ minLength: 1, maxLength, pattern: "^[A-Za-z][A-Za-z' .-]*$", description: "letters, spaces, apostrophes, hyphens or periods, starting with a letter" });

export interface LegacyAddress {
  line1: string | null;
  city: string | null;
  state: string | null;
  zip: string | null;
}

/** the JSON representation of a patient (the legacy's PATIENT_MASTER row) */
export interface LegacyPatient {
  mrn: string;
  lastName: string;
  firstName: string;
  middleName: string | null;
  dateOfBirth: string;
  sex: SexCode;
  address: LegacyAddress;
  phone: string | null;
  maritalStatus: MaritalCode | null;
  active: boolean;
  created: string;
  lastUpdated: string;
  lastUpdatedBy: string;
}

export interface PatientPage {
  page: number;
  pageSize: number;
  total: number;
  items: LegacyPatient[];
}

export const AddressInput = Type.Object(
  {
    line1: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 55 }))),
    city: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 30, pattern: "^[A-Za-z][A-Za-z' .-]*$", description: 'letters, spaces, apostrophes, hyphens or periods' }))),
    state: Type.Optional(Nullable(Type.String({ pattern: '^[A-Za-z]{2}$', description: 'a two-letter state code' }))),
    zip: Type.Optional(Nullable(Type.String({ pattern: '^[0-9]{5}(-[0-9]{4})?$', description: 'a ZIP code 12345 or 12345-6789' }))),
  },
  { additionalProperties: false },
);

/**
 * Body of POST and PUT. PUT replaces every updatable field, so an omitted optional field
 * becomes null. The read-only fields of a GET answer are accepted and ignored, so that a
 * client may send back what it read.
 */
export const PatientInput = Type.Object(
  {
    lastName: personName(35),
    firstName: personName(25),
    middleName: Type.Optional(Nullable(personName(25))),
    dateOfBirth: CalendarDate,
    sex: Codes(SEX_CODES),
    address: Type.Optional(Nullable(AddressInput)),
    phone: Type.Optional(Nullable(Type.String({ pattern: '^[0-9][0-9 ()+.-]{5,18}[0-9]$', description: 'a telephone number of digits, spaces and ()+.-' }))),
    maritalStatus: Type.Optional(NullableCodes(MARITAL_CODES)),
    active: Type.Optional(Type.Boolean()),
    mrn: Type.Optional(Mrn),
    created: Type.Optional(Type.String()),
    lastUpdated: Type.Optional(Type.String()),
    lastUpdatedBy: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type PatientInput = Static<typeof PatientInput>;

export const MrnParams = Type.Object({ mrn: Mrn });
export type MrnParams = Static<typeof MrnParams>;

export const PatientListQuery = Type.Object({
  name: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 60,
      pattern: "^ *[A-Za-z][A-Za-z' .-]*(,[A-Za-z' .-]*)?$",
      description: "a last name prefix, or LAST,FIRST prefixes (letters, spaces, apostrophes, hyphens, periods)",
    }),
  ),
  dob: Type.Optional(CalendarDate),
  page: Type.Optional(Type.String({ pattern: '^[1-9][0-9]{0,5}$', description: 'a page number from 1 to 999999' })),
  pageSize: Type.Optional(Type.String({ pattern: '^([1-9]|[1-9][0-9]|100)$', description: 'a whole number from 1 to 100' })),
});
export type PatientListQuery = Static<typeof PatientListQuery>;

/**
 * What a registration or an update writes, whoever stores it: the input normalised the way the
 * old registration screens did (toPatientFields), or a patient an HL7 message registers
 * (@ficus/hl7-protocol's registration, whose record this is).
 */
export type PatientFields = PatientRegistration;

/** A patient as a store reads it, flat, under the contract's names: what patientJson shapes. */
export interface PatientRecord extends PatientFields {
  mrn: string;
  /** local hospital time, YYYY-MM-DDTHH:MM:SS (sqlTimestamp) */
  created: string;
  lastUpdated: string;
  lastUpdatedBy: string;
}

/** The JSON representation of a stored patient, keys in the contract's order (its bytes make the ETag). */
export function patientJson(r: PatientRecord): LegacyPatient {
  return {
    mrn: r.mrn,
    lastName: r.lastName,
    firstName: r.firstName,
    middleName: r.middleName,
    dateOfBirth: r.dateOfBirth,
    sex: r.sex,
    address: { line1: r.line1, city: r.city, state: r.state, zip: r.zip },
    phone: r.phone,
    maritalStatus: r.maritalStatus,
    active: r.active,
    created: r.created,
    lastUpdated: r.lastUpdated,
    lastUpdatedBy: r.lastUpdatedBy,
  };
}
