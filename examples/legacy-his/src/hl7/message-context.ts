/**
 * What a message handler gets: the message, and the transaction it is applied in. A handler
 * either returns (the effect is committed with the message's log row) or throws an
 * Hl7Refusal (everything it wrote is rolled back, and the sender gets AE/AR with the error).
 */
import type { Hl7Message } from '@ficus/hl7-protocol';
import type pg from 'pg';
import { at, parseDateTime, refuse, type ParsedDateTime } from './hl7-values.js';

export interface MessageContext {
  readonly tx: pg.PoolClient;
  readonly message: Hl7Message;
  /** MSH-4 as written, the first half of the message's key */
  readonly facility: string;
  /** MSH-10, the second half */
  readonly controlId: string;
}

export type MessageHandler = (ctx: MessageContext) => Promise<void>;

/** `SEG[n]-rest`: a path into the n-th occurrence of a segment */
export const nth = (segment: string, n: number, rest: string) => `${segment}[${n}]-${rest}`;

/**
 * A date/time field: undefined when empty; refused (102) when it is not a valid HL7 date/time
 * naming at least a day, since a wrong date in a clinical record is worse than a refusal.
 */
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
