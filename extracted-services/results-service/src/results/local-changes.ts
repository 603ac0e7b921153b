/**
 * Which fields of a result the service changed itself that the legacy has not yet been seen to
 * hold: `local_changed_fields`, valid while `local_fields_at` equals `local_changed_at` (a local
 * change that did not say which fields it made leaves them unknown, and the row keeps the
 * whole-row rule). Noted for every ORU the legacy did not get (written back), whoever holds the
 * record; result-merge.ts merges a legacy change with them. Besides, the fields of the latest
 * such change (`local_last_fields`, what its write-back writes whatever the legacy holds):
 * cdc/writeback-echoes.ts tells the echo of that write-back from an older one's.
 */
import type pg from 'pg';
import { writeBackImage } from '@ficus/service-kit';
import { changedFields, RESULT_MERGED_FIELDS, RESULT_TOPIC_COLUMNS, type ResultTopicRow } from './result-topic.js';

/** what the row says of the service's own changes, read with the row */
export interface LocalChanges {
  pending: string[] | null;
  known: boolean;
  local: boolean;
  /** the fields of the latest local change (null: not recorded, results changed before migration 005 or only created) */
  latest: string[] | null;
}

export const LOCAL_CHANGES = `r.local_changed_fields AS pending, (r.local_changed_at IS NOT NULL AND r.local_fields_at = r.local_changed_at) AS known,
  r.local_changed_at IS NOT NULL AS local, r.local_last_fields AS latest`;

/** A result's row before a local change: its topic row and what was pending then. */
export interface BeforeLocalChange {
  row: ResultTopicRow;
  earlier: LocalChanges;
}

/** Reads (and locks) the result before a local change; undefined when there is none. */
export async function beforeLocalChange(tx: pg.PoolClient, id: string): Promise<BeforeLocalChange | undefined> {
  const { rows } = await tx.query<ResultTopicRow & LocalChanges>(`SELECT ${RESULT_TOPIC_COLUMNS}, ${LOCAL_CHANGES} FROM lab_result r WHERE r.id = $1 FOR UPDATE`, [id]);
  const r = rows[0];
  if (!r) return undefined;
  const { pending, known, local, latest, ...row } = r;
  return { row, earlier: { pending, known, local, latest } };
}

/**
 * Records the fields a local change made, after it (local_changed_at stamped): added to those
 * still pending, and as the latest change's; an earlier local change that did not say which
 * counts as all of them. Answers the before image for the outbox: without the pending fields the
 * change did not make, which the write-back writes too where the legacy still holds what the
 * writer last wrote (service-kit's outbox/write-back-image.ts). A new result (no
 * before) has nothing pending: the legacy gets it whole.
 */
export async function noteLocalChange(tx: pg.PoolClient, id: string, before: BeforeLocalChange | null, after: ResultTopicRow): Promise<Record<string, unknown> | null> {
  const e = before?.earlier;
  const earlier = !e ? [] : e.known ? (e.pending ?? []) : e.local ? RESULT_MERGED_FIELDS : [];
  const latest = before ? changedFields(before.row, after) : [];
  const image = before && writeBackImage(before.row, earlier, latest);
  // a change of nothing writes nothing back (no echo): the latest write-back stays the one before
  await tx.query(
    "UPDATE lab_result SET local_changed_fields = $2::text[], local_fields_at = local_changed_at, local_last_fields = COALESCE(NULLIF($3::text[], '{}'), local_last_fields) WHERE id = $1",
    [id, image?.pending ?? [], latest],
  );
  return image?.before ?? null;
}
