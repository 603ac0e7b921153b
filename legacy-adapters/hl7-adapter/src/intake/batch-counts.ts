/**
 * A batch's own account of what it holds (BTS-1 messages, FTS-1 batches, and the trailers that
 * carry them) against what came. A count that disagrees means messages were lost between the
 * sender and here (a file cut short, a batch split by a broken transfer), or a sender that
 * counts wrong: either way a person at the sending side must look. The whole batch is refused
 * (each message AR, none stored), which every sender shows as it shows any refusal; the
 * messages are then sent again whole, and any stored before are recognised as resends. (Until
 * 2026-12-07 the counts were not looked at: a BTS-1 of 5 over one message got one AA, and the
 * sender never learnt that four were missing.)
 *
 * An envelope that cannot be checked is refused the same way, since it is how a cut-short file
 * looks: a BHS whose BTS never comes, an FHS whose FTS never comes, and a count that is not a
 * count (`5A`, `-1`, `1.5`). (Until 2026-12-07 each was taken without a word.) The FTS is held
 * to this as the BTS is: a file cut between two batches, or inside a file of messages with no
 * BHS, loses whole messages (or the last segments of one, its last results) with every BTS
 * left in place, and only the FTS shows the end was reached. A trailer whose count is empty
 * is taken: HL7 makes the count optional, and the trailer itself says the end came. Messages
 * with no envelope at all have nothing to check.
 */
import { hl7Error, type Hl7Batch, type Hl7Error } from '@ficus/hl7-protocol';

export function batchCountRefusal(batch: Hl7Batch): Hl7Error | undefined {
  let bts = 0;
  for (const group of batch.batches) {
    if (group.header === undefined) continue;
    bts++;
    if (group.trailer === undefined) {
      return hl7Error(
        100,
        'the batch (BHS) has no BTS, so it may have been cut short; no message of the batch is stored: send the whole batch again with its BTS',
        { segment: 'BTS', sequence: bts },
      );
    }
    const counted = countOf(group.trailer.count);
    if (counted === 'not a count') {
      return hl7Error(
        102,
        'BTS-1 (message count) is not a count (a whole number, 0 or more): whether messages were lost cannot be checked; no message of the batch is stored: send the whole batch again with its count',
        { segment: 'BTS', sequence: bts, field: 1 },
      );
    }
    if (counted !== undefined && counted !== group.messages.length) {
      return hl7Error(
        100,
        `BTS-1 counts ${counted} messages, the batch holds ${group.messages.length}: messages were lost on the way, or the count is wrong; no message of the batch is stored: send the whole batch again`,
        { segment: 'BTS', sequence: bts, field: 1 },
      );
    }
  }
  if (batch.fileHeader === undefined) return undefined;
  if (batch.fileTrailer === undefined) {
    return hl7Error(
      100,
      'the file (FHS) has no FTS, so it may have been cut short; no message of the file is stored: send the whole file again with its FTS',
      { segment: 'FTS', sequence: 1 },
    );
  }
  const counted = countOf(batch.fileTrailer.count);
  if (counted === 'not a count') {
    return hl7Error(
      102,
      'FTS-1 (batch count) is not a count (a whole number, 0 or more): whether batches were lost cannot be checked; no message of the file is stored: send the whole file again with its count',
      { segment: 'FTS', sequence: 1, field: 1 },
    );
  }
  if (counted === undefined || fileCountAgrees(batch, counted, bts)) return undefined;
  const holds = bts > 0 ? `${bts}` : `${batch.messages.length} messages and no BHS`;
  return hl7Error(
    100,
    `FTS-1 counts ${counted} batches, the file holds ${holds}: messages were lost on the way, or the count is wrong; no message of the file is stored: send the whole file again`,
    { segment: 'FTS', sequence: 1, field: 1 },
  );
}

/**
 * FTS-1 counts the file's batches (BHS). A file of messages with no BHS has one batch or none,
 * as a sender reads it, and some senders count its messages there: none of these says anything
 * is missing.
 */
function fileCountAgrees(batch: Hl7Batch, counted: number, headed: number): boolean {
  if (headed > 0) return counted === headed;
  return counted === 0 || counted === 1 || counted === batch.messages.length;
}

/** An HL7 number (NM: a sign, digits, a decimal point) is read as written: `01`, `+1` and `1.0` count one. */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)$/;

/** The count written, undefined when none is. */
function countOf(written: string): number | 'not a count' | undefined {
  const count = written.trim();
  if (count === '') return undefined;
  const n = NUMBER.test(count) ? Number(count) : NaN;
  return Number.isInteger(n) && n >= 0 ? n : 'not a count';
}
