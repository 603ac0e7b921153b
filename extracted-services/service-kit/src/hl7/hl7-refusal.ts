/**
 * A message a service cannot apply as it is (an unknown patient, a missing or malformed
 * value). Thrown by a handler inside its transaction: everything it wrote is rolled back, and
 * the job becomes a dead letter whose reason names the HL7 error and the field, never a value.
 */
import { formatLocation, hl7Error, type Hl7Error, type Hl7ErrorCode, type Hl7ErrorLocation } from '@ficus/hl7-protocol';

export class Hl7Refusal extends Error {
  constructor(readonly error: Hl7Error) {
    super(error.message);
    this.name = 'Hl7Refusal';
  }

  /** `HL7 204 at PID^1^3^1^1: PID-3: no patient with this MRN` */
  get reason(): string {
    const where = this.error.location ? ` at ${formatLocation(this.error.location)}` : '';
    return `HL7 ${this.error.code}${where}: ${this.error.message}`;
  }
}

export function refuse(code: Hl7ErrorCode, message: string, location?: Hl7ErrorLocation): Hl7Refusal {
  return new Hl7Refusal(hl7Error(code, message, location));
}

/** `SEG^seq^field[^rep^comp]` as an error location */
export function at(segment: string, sequence: number, field?: number, component?: number): Hl7ErrorLocation {
  if (field === undefined) return { segment, sequence };
  return component === undefined ? { segment, sequence, field } : { segment, sequence, field, repetition: 1, component };
}
