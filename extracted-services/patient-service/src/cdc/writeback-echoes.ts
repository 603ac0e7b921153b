/**
 * The legacy's copy of the service's own write-back (its echo through CDC, origin
 * ficus-writeback) while the legacy holds the record, for a patient with fields still pending
 * (HL7 messages in mode `new` applied here, their write-backs not all seen to land).
 *
 * The echo is the legacy's state right after one write-back. When that write-back is the
 * patient's latest, the echo holds every field the latest local change made as the service
 * does: the legacy holds all the service's changes (and whatever else it committed before),
 * and the echo is applied whole, which ends the pending state (patient-feeds.ts). An echo that
 * does not is of an older write-back, read after later messages were applied here: applied
 * whole it would put back the older values until the next echo came (a nurse reading through
 * patient-service would see the older demographics meanwhile, and for good when the next
 * write-back is dead-lettered). So its pending fields keep the service's value and stay pending
 * (a newer write-back is on its way), and only the other fields take the legacy's value. Pending
 * fields the older echo happens to hold as the service does stay pending too: a message that
 * changed a name and a later one that changed it back would otherwise let the middle write-back's
 * echo, then no longer pending, put the middle name back.
 *
 * A write-back that never lands (dead-lettered for good) leaves its fields the service's until
 * the echo of a later write-back of the patient, which is the latest's: the legacy holds the
 * record, and both sides then hold the legacy's values. With CDC_WRITEBACK_ECHO=drop no echo
 * comes and nothing here runs.
 */
import type pg from 'pg';
import type { ChangeEvent } from '@ficus/contracts';
import { patientJson, type PatientRecord } from '@ficus/legacy-his/contract';
import { keyValue, samePadded, sameValue, WRITEBACK_ORIGIN } from '@ficus/service-kit';
import { LOCAL_CHANGES, type LocalChanges } from '../patients/local-changes.js';
import { PATIENT_COLUMNS } from '../patients/patient-columns.js';
import { applyMerge } from './patient-merge.js';
import { PATIENT_MERGED_FIELDS, patientTopicRow } from './patient-topic.js';

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
}

/** `whole`: the echo of the latest write-back; otherwise the fields to take from the legacy's row */
export type EchoMerge = { whole: true } | { whole: false; take: string[] };

/**
 * Whether the echo holds the latest change's field as the service does. The legacy's trigger
 * stamps LAST_UPD_DT itself when a write leaves it as it was, so a written lastUpdated that
 * was already the legacy's shows as the time of the write (two saves in one second).
 */
function holds(i: EchoInput, f: string): boolean {
  if (samePadded(i.ours[f], i.after[f])) return true;
  return f === 'lastUpdated' && i.before !== null && sameValue(i.ours[f], i.before[f]);
}

export function mergeEcho(i: EchoInput): EchoMerge {
  const latest = i.latest ?? [...i.pending];
  if (latest.every((f) => holds(i, f))) return { whole: true };
  return { whole: false, take: PATIENT_MERGED_FIELDS.filter((f) => !i.pending.has(f) && !sameValue(i.ours[f], i.after[f])) };
}

/**
 * Merges the echoes of older write-backs among the changes (the legacy holding the record), in
 * the consumer's transaction; answers them. The rest, the latest write-backs' echoes among
 * them, go the whole-row way.
 */
export async function mergeWritebackEchoes(tx: pg.PoolClient, upserts: readonly ChangeEvent[]): Promise<ChangeEvent[]> {
  const echoes = upserts.filter((c) => c.source.origin === WRITEBACK_ORIGIN && c.after !== null);
  if (echoes.length === 0) return [];
  const { rows } = await tx.query<PatientRecord & LocalChanges>(
    `SELECT ${PATIENT_COLUMNS}, ${LOCAL_CHANGES} FROM patient p WHERE p.mrn = ANY($1::text[]) AND cardinality(p.local_changed_fields) > 0 ORDER BY p.mrn FOR UPDATE`,
    [echoes.map((c) => keyValue(c, 'mrn'))],
  );
  const current = new Map(rows.filter((r) => r.known).map((r) => [r.mrn, r]));
  const merged: ChangeEvent[] = [];
  for (const echo of echoes) {
    const row = current.get(keyValue(echo, 'mrn'));
    if (!row) continue;
    const pending = row.pending ?? [];
    const m = mergeEcho({ before: echo.before, after: echo.after!, ours: patientTopicRow(patientJson(row)), pending: new Set(pending), latest: row.latest });
    if (m.whole) continue;
    await applyMerge(tx, echo, m.take, pending);
    merged.push(echo);
  }
  return merged;
}
