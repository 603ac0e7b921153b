/**
 * What legacy's refusal of a delivered message means for its lane. HL7 v2 (2.5, 2.9) says AR/CR
 * is a refusal for reasons unrelated to the content (the receiver down, an internal error), so
 * the message may be sent again, and AE/CE an error in the content. Real receivers blur this:
 * the legacy stand-in answers AE with error 207 (application internal error) while its
 * database is away. A temporary refusal made a dead letter lets the patient's later messages
 * overtake the refused one, and its replay then overwrites newer data; so what counts as
 * temporary is configured (HL7_LEGACY_RETRY_ON): such an answer holds the lane and is tried
 * again with backoff, as a timeout is; any other refusal is a dead letter.
 */
import { formatLocation, HL7_ERROR_TEXT, type Hl7ErrorCode, type Hl7ErrorLocation } from '@ficus/hl7-protocol';
import type { AckAnswer } from './mllp-client.js';

/**
 * 206 record locked and 207 internal error, whatever MSA-1 says; an AR or CR naming no error
 * code. An AR with a content or support code (1xx, 200-205) says the message itself is refused.
 */
export const DEFAULT_LEGACY_RETRY_ON = '206,207,AR:none,CR:none';

/** one condition: `AR` (MSA-1), `207` (an error code), `AR:207` (both), `AR:none` (MSA-1 naming no error code) */
const CONDITION = '(?:[AaCc][EeRr]:[0-9A-Za-z]+|[0-9A-Za-z]+)';
/** HL7_LEGACY_RETRY_ON as the configuration schema checks it: conditions separated by commas, or empty (none) */
export const RETRY_ON_PATTERN = `^\\s*(?:${CONDITION}(?:\\s*,\\s*${CONDITION})*)?\\s*$`;

const ACK_CODES = new Set(['AE', 'AR', 'CE', 'CR']);

interface Condition {
  ack?: string;
  /** null: the answer names no error code */
  error?: string | null;
}

export type AnswerFields = Pick<AckAnswer, 'code' | 'errorCodes'>;

/** Whether an answer of legacy (not AA or CA) is temporary, by HL7_LEGACY_RETRY_ON. */
export function temporaryAnswers(retryOn: string): (answer: AnswerFields) => boolean {
  const conditions = retryOn
    .split(',')
    .map((c) => c.trim().toUpperCase())
    .filter((c) => c !== '')
    .map((c): Condition => {
      const [left, right] = c.split(':') as [string, string?];
      if (right !== undefined) return { ack: left, error: right === 'NONE' ? null : right };
      return ACK_CODES.has(left) ? { ack: left } : { error: left };
    });
  return (answer) => {
    const codes = answer.errorCodes.map((e) => e.toUpperCase());
    return conditions.some(
      (c) => (c.ack === undefined || c.ack === answer.code) && (c.error === undefined || (c.error === null ? codes.length === 0 : codes.includes(c.error))),
    );
  };
}

/**
 * An answer as the store keeps it (a dead letter's, a held delivery's last error): `AE: why`,
 * `AE: HL7 204: why` when it names an error code, `AE: HL7 204 at PID^1^3^1^1: why` when it
 * says where too (as a service's reason does), so that the application ACK sent for it later
 * (after a restart, to a resend) can pass legacy's code and location on.
 */
export function answerText(answer: Pick<AckAnswer, 'code' | 'errorCodes' | 'text' | 'location'>): string {
  const first = answer.errorCodes[0];
  const named = first === undefined ? '' : `HL7 ${first}${answer.location ? ` at ${formatLocation(answer.location)}` : ''}`;
  const parts = [named, answer.text].filter((p) => p !== '');
  return parts.length === 0 ? answer.code : `${answer.code}: ${parts.join(': ')}`;
}

/**
 * A stored answer read back: MSA-1, the error code when it is one of table 0357's refusals, where
 * (a service's reason names the field: `HL7 204 at PID^1^3^1^1: …`), and why.
 */
export function readAnswerText(text: string): { code: string; error?: Hl7ErrorCode; location?: Hl7ErrorLocation; why?: string } {
  const [, code = '', rest = text] = /^([A-Z]{2})(?:$|: )(.*)$/s.exec(text) ?? [];
  const named = /^HL7 (\d+)(?: at ([A-Z][A-Z0-9]{2}(?:\^\d*)*))?(?:$|: )(.*)$/s.exec(rest);
  const error = Number(named?.[1]);
  if (!named || error === 0 || !(error in HL7_ERROR_TEXT)) return { code, ...(rest ? { why: rest } : {}) };
  const location = named[2] === undefined ? undefined : readLocation(named[2]);
  return { code, error: error as Hl7ErrorCode, ...(location ? { location } : {}), ...(named[3] ? { why: named[3] } : {}) };
}

/** `SEG^seq^field^rep^comp^sub` (formatLocation's form) back into its parts */
function readLocation(text: string): Hl7ErrorLocation {
  const [segment, ...n] = text.split('^') as [string, ...string[]];
  const at = (i: number) => (n[i] === undefined || n[i] === '' ? undefined : Number(n[i]));
  const parts = { field: at(1), repetition: at(2), component: at(3), subcomponent: at(4) };
  return { segment, sequence: at(0) ?? 1, ...Object.fromEntries(Object.entries(parts).filter(([, v]) => v !== undefined)) };
}
