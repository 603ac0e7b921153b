/**
 * The legacy's latest change of any of a patient's stays, as its CDC brought it: a stay's row
 * holds its own (`committed_at`, the legacy's lastUpdated), and a stay the legacy deleted holds
 * nothing any more, so the delete's commit time is kept per patient (`legacy_stay_deletes`,
 * migration patient-service/004). An HL7 copy judged against the patient's stays as a whole
 * (hl7/stay-by-state.ts) reads both.
 */
import { localTimestamp } from '@ficus/legacy-his/contract';
import type pg from 'pg';

/**
 * A statement after the CTE `gone` (the stays the legacy's deletes removed, with the delete's
 * commit time as `deleted_commit_time`) that keeps each patient's latest one. A change without a
 * commit time (a source that gives none) counts as deleted now: later than the legacy's delete,
 * so a copy it makes stale is one the legacy had, never one it had not.
 */
export const RECORD_LEGACY_STAY_DELETES = `
  INSERT INTO legacy_stay_deletes AS l (mrn, deleted_at)
  SELECT mrn, max(COALESCE(date_trunc('second', deleted_commit_time::timestamptz)::timestamp, LOCALTIMESTAMP(0))) FROM gone GROUP BY mrn
  ON CONFLICT (mrn) DO UPDATE SET deleted_at = excluded.deleted_at WHERE l.deleted_at < excluded.deleted_at`;

/** whether the legacy changed or deleted one of the patient's stays at or after `time` (MSH-7, as MessageOrder gives it) */
export async function legacyChangedStaysSince(tx: pg.PoolClient, mrn: string, time: string): Promise<boolean> {
  const t = localTimestamp('$2');
  const { rows } = await tx.query<{ changed: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM encounter WHERE mrn = $1 AND committed_at >= ${t})
         OR EXISTS (SELECT 1 FROM legacy_stay_deletes WHERE mrn = $1 AND deleted_at >= ${t}) AS changed`,
    [mrn, time],
  );
  return rows[0]!.changed;
}
