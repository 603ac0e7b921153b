/**
 * The legacy's copy of patient-service's own write-back (its echo through CDC, origin
 * ficus-writeback) while the legacy holds the record, for a patient with fields still pending
 * (HL7 messages in mode `new` applied here, their write-backs not all seen to land): the echo
 * of the patient's latest write-back is applied whole, which ends the pending state
 * (patient-feeds.ts); an older one's keeps the service's pending fields and takes the legacy's
 * others (service-kit's cdc/echo-merge.ts, which results-service follows too).
 */
import type pg from 'pg';
import type { ChangeEvent } from '@ficus/contracts';
import { patientJson, type PatientRecord } from '@ficus/legacy-his/contract';
import { keyValue, mergeEcho, WRITEBACK_ORIGIN } from '@ficus/service-kit';
import { LOCAL_CHANGES, type LocalChanges } from '../patients/local-changes.js';
import { PATIENT_COLUMNS } from '../patients/patient-columns.js';
import { applyMerge } from './patient-merge.js';
import { PATIENT_MERGED_FIELDS, patientTopicRow } from './patient-topic.js';

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
    const ours = patientTopicRow(patientJson(row));
    const m = mergeEcho({ before: echo.before, after: echo.after!, ours, pending: new Set(pending), latest: row.latest, fields: PATIENT_MERGED_FIELDS });
    if (m.whole) continue;
    await applyMerge(tx, echo, m.take, pending);
    merged.push(echo);
  }
  return merged;
}
