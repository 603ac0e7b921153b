/**
 * Answers to a batch frame as one acknowledgement batch (HL7 v2 2.10.3): `[FHS] BHS` ACKs…
 * `BTS [FTS]`, grouped as the sender's messages were.
 */
import { buildBatchAck, encodeFrame, type BatchHeader } from '@ficus/hl7-protocol';

/** What the answer needs to know of the batch received. */
export interface BatchShape {
  fileHeader: BatchHeader | undefined;
  /** each BHS (undefined: messages outside any) */
  groups: (BatchHeader | undefined)[];
  /** the group of each message */
  groupOf: number[];
  /** the batch's charset (its first message's), for the answer's envelope */
  charset: string | undefined;
}

/** A batch's answers in one frame, grouped as its messages were; no frame when none is owed. */
export function asBatch(batch: BatchShape, each: Buffer[][]): Buffer[] {
  if (each.every((a) => a.length === 0)) return [];
  const groups = batch.groups.map((header) => ({ header, answers: [] as Buffer[] }));
  each.forEach((answers, i) => groups[batch.groupOf[i]!]!.answers.push(...answers));
  return [encodeFrame(buildBatchAck(batch.fileHeader, groups, { charset: batch.charset }))];
}

/**
 * The answer to a batch with no messages (a sender's keep-alive, or a day with nothing to
 * send): an acknowledgement batch with none either, counts 0, so the sender is not left waiting.
 */
export function emptyBatchAnswer(batch: BatchShape): Buffer {
  return encodeFrame(buildBatchAck(batch.fileHeader, batch.groups.map((header) => ({ header, answers: [] })), { charset: batch.charset }));
}
