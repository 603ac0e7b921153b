/**
 * A batch's own counts (BTS-1 messages, FTS-1 batches) against what came. A count that
 * disagrees means messages were lost between the sender and here (a file cut short, a batch
 * split by a broken transfer), or a sender that counts wrong: either way a person at the
 * sending side must look. The whole batch is refused (each message AR, with the counts, none
 * stored), which every sender shows as it shows any refusal; the messages are then sent again
 * whole, and any stored before are recognised as resends. (Until 2026-12-08 the counts were
 * not looked at: a BTS-1 of 5 over one message got one AA, and the sender never learnt that
 * four were missing.) A count that is not a number, or a missing trailer, is not checked.
 */
import { hl7Error, type Hl7Batch, type Hl7Error } from '@ficus/hl7-protocol';

export function batchCountRefusal(batch: Hl7Batch): Hl7Error | undefined {
  let bts = 0;
  for (const group of batch.batches) {
    if (group.header === undefined) continue;
    bts++;
    const counted = countOf(group.trailer?.count);
    if (counted !== undefined && counted !== group.messages.length) {
      return hl7Error(
        100,
        `BTS-1 counts ${counted} messages, the batch holds ${group.messages.length}: messages were lost on the way, or the count is wrong; no message of the batch is stored: send the whole batch again`,
        { segment: 'BTS', sequence: bts, field: 1 },
      );
    }
  }
  const counted = countOf(batch.fileTrailer?.count);
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

function countOf(written: string | undefined): number | undefined {
  const count = written?.trim() ?? '';
  return /^\d+$/.test(count) ? Number(count) : undefined;
}
