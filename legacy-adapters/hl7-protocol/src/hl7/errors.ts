/**
 * HL7 v2 error codes (table 0357) and the error shape shared by decoding and ACK building, so
 * that a decode failure can be written into an ERR segment as it is.
 */

export const HL7_ERROR_TEXT = {
  0: 'Message accepted',
  100: 'Segment sequence error',
  101: 'Required field missing',
  102: 'Data type error',
  103: 'Table value not found',
  104: 'Value too long',
  200: 'Unsupported message type',
  201: 'Unsupported event code',
  202: 'Unsupported processing id',
  203: 'Unsupported version id',
  204: 'Unknown key identifier',
  205: 'Duplicate key identifier',
  206: 'Application record locked',
  207: 'Application internal error',
} as const;

export type Hl7ErrorCode = keyof typeof HL7_ERROR_TEXT;

/** Where an error is: ERR-2 (ERL) in v2.5+, the first three components of ERR-1 (ELD) before. */
export interface Hl7ErrorLocation {
  /** Segment id, e.g. `MSH`. */
  readonly segment: string;
  /** 1-based occurrence of that segment id in the message. */
  readonly sequence: number;
  /** 1-based field position; absent when the whole segment is meant. */
  readonly field?: number;
  readonly repetition?: number;
  readonly component?: number;
  readonly subcomponent?: number;
}

/** Table 0516: E error, W warning, I information, F fatal (v2.7+). */
export type Hl7ErrorSeverity = 'E' | 'W' | 'I' | 'F';

export interface Hl7Error {
  readonly code: Hl7ErrorCode;
  /** The table 0357 text of `code`. */
  readonly text: string;
  /**
   * What is wrong, in HL7 terms, for a person at the sending side (ERR-8). Never holds field
   * values from the message: they may be patient data.
   */
  readonly message: string;
  readonly location?: Hl7ErrorLocation;
  readonly severity?: Hl7ErrorSeverity;
}

export function hl7Error(code: Hl7ErrorCode, message: string, location?: Hl7ErrorLocation): Hl7Error {
  return location === undefined
    ? { code, text: HL7_ERROR_TEXT[code], message }
    : { code, text: HL7_ERROR_TEXT[code], message, location };
}

/** `SEG^seq^field…` as ERR-2 writes it, for messages and logs (holds no message data). */
export function formatLocation(location: Hl7ErrorLocation): string {
  const parts = [
    location.segment,
    String(location.sequence),
    optional(location.field),
    optional(location.repetition),
    optional(location.component),
    optional(location.subcomponent),
  ];
  while (parts.length > 2 && parts[parts.length - 1] === '') parts.pop();
  return parts.join('^');
}

function optional(n: number | undefined): string {
  return n === undefined ? '' : String(n);
}
