/**
 * The conflict rule's HL7 half, as SQL for a row of a table that HL7 writes to: a message is
 * applied to a row only when it is newer than the last message applied to it (MSH-7, then the
 * order the adapter received them in) and, while the legacy system is the system of record,
 * newer than the legacy's committed state of the row (CDC's `lastUpdated`): an older message
 * is one the legacy's committed state already includes or supersedes.
 */
import { localTimestamp } from '@ficus/legacy-his/contract';
import type { SystemOfRecord } from '../runtime/service-env.js';
import type { MessageOrder } from './hl7-intake.js';

/**
 * SQL that is true when the message (time and seq given as the parameters named) may change
 * the row of `table`. A message without a readable MSH-7 is ordered by receive order only.
 */
export function hl7MayOverwrite(table: string, timeParam: string, seqParam: string, regime: SystemOfRecord): string {
  const t = localTimestamp(timeParam);
  const newerThanHl7 = `(${table}.hl7_time IS NULL OR (${t}, ${seqParam}::bigint) > (${table}.hl7_time, ${table}.hl7_seq))`;
  const newerThanCommitted = regime === 'legacy' ? ` AND (${table}.committed_at IS NULL OR ${t} > ${table}.committed_at)` : '';
  return `(CASE WHEN ${timeParam}::text IS NULL THEN (${table}.hl7_seq IS NULL OR ${seqParam}::bigint > ${table}.hl7_seq) ELSE ${newerThanHl7}${newerThanCommitted} END)`;
}

/** The SET clause part that records a message on the row it changed. */
export function hl7Stamp(timeParam: string, seqParam: string, regime: SystemOfRecord): string {
  const local = regime === 'service' ? ', local_changed_at = clock_timestamp()' : '';
  return `hl7_time = ${localTimestamp(timeParam)}, hl7_seq = ${seqParam}::bigint${local}`;
}

export const orderParams = (o: MessageOrder): [string | null, number] => [o.time, o.seq];
