/**
 * Which acknowledgement a received message is owed. Original mode (MSH-15 empty) always gets
 * an application ACK (AA/AE/AR). Enhanced mode (MSH-15 valued) gets a commit ACK (CA/CE/CR)
 * only when MSH-15 asks for one: AL always, NE never, ER only on error, SU only on success.
 */
import type { EnhancedAckCode, OriginalAckCode } from './ack.js';
import type { MessageHeader } from './header.js';

/** accepted: stored; error: could not be stored (retry may help); rejected: can never be accepted. */
export type AckOutcome = 'accepted' | 'error' | 'rejected';

export type AckDecision =
  | { readonly mode: 'original'; readonly send: true; readonly code: OriginalAckCode }
  | { readonly mode: 'enhanced'; readonly send: boolean; readonly code: EnhancedAckCode };

const ORIGINAL: Record<AckOutcome, OriginalAckCode> = { accepted: 'AA', error: 'AE', rejected: 'AR' };
const ENHANCED: Record<AckOutcome, EnhancedAckCode> = { accepted: 'CA', error: 'CE', rejected: 'CR' };

export function decideAck(header: Partial<Pick<MessageHeader, 'acceptAckType'>>, outcome: AckOutcome): AckDecision {
  const condition = header.acceptAckType ?? '';
  if (condition === '') return { mode: 'original', send: true, code: ORIGINAL[outcome] };
  return { mode: 'enhanced', send: commitAckDue(condition, outcome), code: ENHANCED[outcome] };
}

/** Whether MSH-15 (table 0155) asks for a commit ACK for this outcome. */
export function commitAckDue(acceptAckType: string, outcome: AckOutcome): boolean {
  switch (acceptAckType) {
    case 'AL':
      return true;
    case 'NE':
      return false;
    case 'ER':
      return outcome !== 'accepted';
    case 'SU':
      return outcome === 'accepted';
    default:
      // decoding refuses other values; an unknown condition errs on the side of answering
      return true;
  }
}
