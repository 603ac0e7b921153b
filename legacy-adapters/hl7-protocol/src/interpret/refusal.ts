/**
 * A message a receiver cannot apply as it is: an unknown patient, a missing or malformed
 * value, an unsupported event. Thrown while a message is read or applied, inside the
 * transaction that applies it: everything written is rolled back, and the sender is answered
 * (the legacy inbound's AE/AR with an ERR segment) or the job becomes a dead letter whose
 * reason names the HL7 error and the field (the services). Never quotes a value: values may
 * be patient data.
 */
import { formatLocation, hl7Error, type Hl7Error, type Hl7ErrorCode, type Hl7ErrorLocation } from '../hl7/errors.js';

/** How the message is answered: AE/CE (error: may succeed when sent again) or AR/CR (rejected). */
export type RefusalKind = 'error' | 'rejected';

export class Hl7Refusal extends Error {
  constructor(
    readonly error: Hl7Error,
    readonly kind: RefusalKind = 'error',
  ) {
    super(error.message);
    this.name = 'Hl7Refusal';
  }

  /** `HL7 204 at PID^1^3^1^1: PID-3: no patient with this MRN` */
  get reason(): string {
    const where = this.error.location ? ` at ${formatLocation(this.error.location)}` : '';
    return `HL7 ${this.error.code}${where}: ${this.error.message}`;
  }
}

export function refuse(code: Hl7ErrorCode, message: string, location?: Hl7ErrorLocation, kind: RefusalKind = 'error'): Hl7Refusal {
  return new Hl7Refusal(hl7Error(code, message, location), kind);
}

/** `SEG^seq^field[^rep^comp]` as an error location */
export function at(segment: string, sequence: number, field?: number, component?: number, repetition = 1): Hl7ErrorLocation {
  if (field === undefined) return { segment, sequence };
  return component === undefined ? { segment, sequence, field } : { segment, sequence, field, repetition, component };
}
