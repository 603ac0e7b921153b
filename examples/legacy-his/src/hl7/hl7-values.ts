/**
 * HL7 v2 values to the legacy schema's columns and codes: dates, names, coded values. Nothing
 * here reads the database; the errors name fields, never their values (they may be PHI).
 */
import { hl7Error, type Hl7Error, type Hl7ErrorCode, type Hl7ErrorLocation } from '@ficus/hl7-protocol';

/** How the message is answered: AE/CE (error: may succeed when sent again) or AR/CR (rejected). */
export type RefusalKind = 'error' | 'rejected';

/** A message the legacy system refuses; thrown by the handlers, answered with an ERR segment. */
export class Hl7Refusal extends Error {
  constructor(
    readonly kind: RefusalKind,
    readonly error: Hl7Error,
  ) {
    super(error.message);
    this.name = 'Hl7Refusal';
  }
}

export function refuse(code: Hl7ErrorCode, message: string, location?: Hl7ErrorLocation, kind: RefusalKind = 'error'): Hl7Refusal {
  return new Hl7Refusal(kind, hl7Error(code, message, location));
}

/** `SEG^seq^field[^rep^comp]` as an ERR-2 location */
export function at(segment: string, sequence: number, field?: number, component?: number): Hl7ErrorLocation {
  if (field === undefined) return { segment, sequence };
  return component === undefined ? { segment, sequence, field } : { segment, sequence, field, repetition: 1, component };
}

export {
  HL7_NULL,
  upperText,
  plainText,
  parseDateTime,
  sexCode,
  maritalCode,
  admissionType,
  dispositionCode,
  zipCode,
  stateCode,
  observationAction,
  abnormalFlag,
  type Update,
  type ParsedDateTime,
  type AdmissionType,
  type ObservationAction,
  type AbnormalFlag,
} from '@ficus/hl7-protocol';

/**
 * SQL for a `ParsedDateTime.timestamp` parameter as the legacy's TIMESTAMP(0): a time sent with
 * its UTC offset is turned into the database's time zone (the hospital's local time, the same
 * clock as LOCALTIMESTAMP); a time without one is already local wall-clock time and is kept.
 */
export function localTimestamp(param: string): string {
  return `(CASE WHEN ${param}::text ~ '[+-][0-9]{2}:[0-9]{2}$' THEN ${param}::text::timestamptz::timestamp ELSE ${param}::text::timestamp END)::timestamp(0)`;
}

/** The legacy MRN: 6 to 10 digits, as the HTTP API accepts it */
export const MRN = /^[0-9]{6,10}$/;
