/**
 * ADT^A40: each PID/MRG pair merges the patient of MRG-1 into the patient of PID-3.
 */
import type { Hl7Message } from '../hl7/message.js';
import { listedMrn, patientMrn, requireSegment } from './message-reading.js';
import { at, refuse } from './refusal.js';

export interface MergePair {
  /** 1-based: the n-th PID and the n-th MRG */
  pair: number;
  /** the MRN of PID-3, as sent: the receiver follows earlier merges to today's survivor */
  survivorMrn: string;
  /** the MRN of MRG-1 (its repetition typed MR, else the first) */
  mergedMrn: string;
}

/**
 * The pairs, one at a time: a pair is read (and refused when malformed) only once the ones
 * before it are applied, so that the first problem in the message is the one answered.
 */
export function* mergePairs(m: Hl7Message): Generator<MergePair> {
  requireSegment(m, 'PID', 'it names the surviving patient');
  requireSegment(m, 'MRG', 'it names the patient merged away');
  for (let i = 1; i <= m.count('PID'); i++) {
    if (i > m.count('MRG')) throw refuse(101, `PID ${i} has no MRG segment`, at('MRG', i));
    const survivorMrn = patientMrn(m, i);
    yield { pair: i, survivorMrn, mergedMrn: listedMrn(m, 'MRG', i, 1) };
  }
}

/** the longest chain of merges followed: a longer one is a loop in the records, not a history */
const MAX_MERGE_CHAIN = 16;

/**
 * The patient an MRN means now: itself, or the survivor it was merged into, followed to the end
 * of a chain of merges (never round a loop back to the MRN asked about). `survivorOf` answers
 * the survivor a receiver's records give for one MRN, or undefined when it was not merged away.
 */
export async function followMerges(mrn: string, survivorOf: (mrn: string) => Promise<string | undefined>): Promise<string> {
  let current = mrn;
  for (let i = 0; i < MAX_MERGE_CHAIN; i++) {
    const next = await survivorOf(current);
    if (next === undefined || next === mrn) return current;
    current = next;
  }
  return current;
}
