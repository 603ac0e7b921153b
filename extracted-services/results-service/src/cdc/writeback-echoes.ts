/**
 * The legacy's copy of results-service's own write-back (its echo through CDC, origin
 * ficus-writeback) while the legacy holds the record, for a result with fields still pending
 * (ORUs in mode `new` applied here, their write-backs not all seen to land): the echo of the
 * result's latest write-back is applied whole, which ends the pending state (results-feed.ts);
 * an older one's, read after a later ORU was applied here (a final after a preliminary, a
 * correction), keeps the service's pending fields (its value, status, flag) and takes the
 * legacy's others (service-kit's cdc/echo-merge.ts, patient-service's rule too). Applied whole
 * it would show the superseded value until the next echo came, and for good when the next
 * write-back is dead-lettered; and it would record that value as a version twice over.
 */
import type pg from 'pg';
import type { ChangeEvent } from '@ficus/contracts';
import { keyValue, mergeEcho, WRITEBACK_ORIGIN, type EchoMerge } from '@ficus/service-kit';
import { LOCAL_CHANGES, type LocalChanges } from '../results/local-changes.js';
import { RESULT_MERGED_FIELDS, RESULT_PLACE_FIELDS, RESULT_TOPIC_COLUMNS, type ResultTopicRow } from '../results/result-topic.js';
import { applyMerge } from './result-merge.js';

/** What to make of `echo` for the result as the service holds it (`row`, with its pending fields). */
export function resultEchoMerge(row: ResultTopicRow & LocalChanges, echo: ChangeEvent): EchoMerge {
  return mergeEcho({ before: echo.before, after: echo.after!, ours: row, pending: new Set(row.pending ?? []), latest: row.latest, fields: RESULT_MERGED_FIELDS });
}

export interface EchoOutcome {
  /** echoes of older write-backs merged here (the rest go the whole-row way) */
  merged: ChangeEvent[];
  /** the results among them filed where their echo files them (patient, order, test) */
  filedAsChanged: string[];
}

/**
 * Merges the echoes of older write-backs among the changes (the legacy holding the record), in
 * the consumer's transaction. A version is kept only when the echo gives the result another
 * value, units, range, flag or status (a screen's edit it carries): the pending ones stay.
 */
export async function mergeWritebackEchoes(tx: pg.PoolClient, upserts: readonly ChangeEvent[]): Promise<EchoOutcome> {
  const outcome: EchoOutcome = { merged: [], filedAsChanged: [] };
  const echoes = upserts.filter((c) => c.source.origin === WRITEBACK_ORIGIN && c.after !== null);
  if (echoes.length === 0) return outcome;
  // one change per key here (the consumer nets a job's changes of a key into one)
  const { rows } = await tx.query<ResultTopicRow & LocalChanges>(
    `SELECT ${RESULT_TOPIC_COLUMNS}, ${LOCAL_CHANGES} FROM lab_result r WHERE r.id = ANY($1::bigint[]) AND cardinality(r.local_changed_fields) > 0 ORDER BY r.id FOR UPDATE`,
    [echoes.map((c) => keyValue(c, 'resultId'))],
  );
  const current = new Map(rows.filter((r) => r.known).map((r) => [String(r.resultId), r]));
  for (const echo of echoes) {
    const row = current.get(keyValue(echo, 'resultId'));
    if (!row) continue;
    const m = resultEchoMerge(row, echo);
    if (m.whole) continue;
    const pending = row.pending ?? [];
    await applyMerge(tx, echo, m.take, pending);
    outcome.merged.push(echo);
    if (!RESULT_PLACE_FIELDS.some((f) => pending.includes(f))) outcome.filedAsChanged.push(keyValue(echo, 'resultId'));
  }
  return outcome;
}
