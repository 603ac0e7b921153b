/**
 * The legacy's copy of a service's own write-back (its echo through CDC, origin
 * ficus-writeback) while the legacy holds the record, for a row with fields still pending
 * (HL7 messages in mode `new` applied here, their write-backs not all seen to land). One rule
 * for every service's rows; each service reads its row and applies the outcome.
 *
 * The echo is the legacy's state right after one write-back. When that write-back is the row's
 * latest, the echo holds every field the latest local change made as the service does: the
 * legacy holds all the service's changes (and whatever else it committed before), and the echo
 * is applied whole, which ends the pending state. An echo that does not is of an older
 * write-back, read after later messages were applied here: applied whole it would put back the
 * older values until the next echo came (a clinician reading through the service would see the
 * older record meanwhile, and for good when the next write-back is dead-lettered). So its
 * pending fields keep the service's value and stay pending (a newer write-back is on its way),
 * and only the other fields take the legacy's value. Pending fields the older echo happens to
 * hold as the service does stay pending too: a message that changed a value and a later one
 * that changed it back would otherwise let the middle write-back's echo, then no longer
 * pending, put the middle value back.
 *
 * A write-back that never lands (dead-lettered for good) leaves its fields the service's until
 * the echo of a later write-back of the row, which is the latest's: the legacy holds the
 * record, and both sides then hold the legacy's values. With CDC_WRITEBACK_ECHO=drop no echo
 * comes and nothing here runs.
 */
import { samePadded, sameValue } from './field-merge.js';

type Row = Readonly<Record<string, unknown>>;

export interface EchoInput {
  /** the legacy's row before the write-back (null for an insert) and after it, topic field names */
  before: Row | null;
  after: Row;
  /** the service's row now, in the topic's representation */
  ours: Row;
  pending: ReadonlySet<string>;
  /** the fields of the service's latest local change; null when not recorded */
  latest: readonly string[] | null;
  /** the data fields the echo may give the service (key and bookkeeping fields left out) */
  fields: readonly string[];
  /** the field the legacy's LAST_UPD_DT trigger stamps; `lastUpdated` unless told */
  stamp?: string;
}

/** `whole`: the echo of the latest write-back; otherwise the fields to take from the legacy's row */
export type EchoMerge = { whole: true } | { whole: false; take: string[] };

/**
 * Whether the echo holds the latest change's field as the service does. The legacy's trigger
 * stamps LAST_UPD_DT itself when a write leaves it as it was, so a written stamp that was
 * already the legacy's (two saves in one second) shows as the time of the write.
 */
function holds(i: EchoInput, f: string): boolean {
  if (samePadded(i.ours[f], i.after[f])) return true;
  return f === (i.stamp ?? 'lastUpdated') && i.before !== null && sameValue(i.ours[f], i.before[f]);
}

export function mergeEcho(i: EchoInput): EchoMerge {
  const latest = i.latest ?? [...i.pending];
  if (latest.every((f) => holds(i, f))) return { whole: true };
  return { whole: false, take: i.fields.filter((f) => !i.pending.has(f) && !sameValue(i.ours[f], i.after[f])) };
}
