/**
 * Reading change events as rows to upsert in bulk: one array per column, for
 * `INSERT … SELECT FROM unnest(…) ON CONFLICT …` (one statement per table per job), and the
 * conflict rule's part that every table shares.
 */
import type { ChangeEvent } from '@ficus/contracts';
import type pg from 'pg';
import type { SystemOfRecord } from '../runtime/service-env.js';

/** The values of one field of each change's row (`after`, or `before` for a delete), null when absent. */
export function column(changes: readonly ChangeEvent[], field: string): (string | null)[] {
  return changes.map((c) => {
    const v = (c.after ?? c.before ?? c.key)[field];
    return v === undefined || v === null ? null : typeof v === 'string' ? v : String(v);
  });
}

/** A string value of a change's key, for the key columns (`mrn`, `admissionId`). */
export function keyValue(c: ChangeEvent, field: string): string {
  const v = c.key[field];
  if (v === undefined || v === null) throw new Error(`change event of ${c.topic} without key field ${field}`);
  return String(v);
}

/** The columns every change-fed table carries for the conflict rule, as unnest arrays. */
export function provenance(changes: readonly ChangeEvent[]): { positions: string[]; commitTimes: (string | null)[] } {
  return { positions: changes.map((c) => c.source.position), commitTimes: changes.map((c) => c.source.commitTime) };
}

/**
 * The WHERE of a change-fed upsert (`ON CONFLICT … DO UPDATE … WHERE`, the incoming row
 * carrying its source commit time as `committed_source_at`): while the legacy system is the
 * system of record its committed state always wins; once the service is, a legacy change older
 * than the row's last local change is not applied (the caller records it as a conflict).
 */
export function cdcMayOverwrite(table: string, regime: SystemOfRecord): string {
  if (regime === 'legacy') return 'TRUE';
  return `(${table}.local_changed_at IS NULL OR (excluded.committed_source_at IS NOT NULL AND excluded.committed_source_at > ${table}.local_changed_at))`;
}

/** The same rule for a delete of the row `table` (the change's commit time as the parameter named). */
export function cdcMayDelete(table: string, commitTimeParam: string, regime: SystemOfRecord): string {
  if (regime === 'legacy') return 'TRUE';
  return `(${table}.local_changed_at IS NULL OR (${commitTimeParam}::timestamptz IS NOT NULL AND ${commitTimeParam}::timestamptz > ${table}.local_changed_at))`;
}

/** Records changes that were not applied because a local change is newer. Answers how many. */
export async function recordConflicts(tx: pg.PoolClient, changes: readonly ChangeEvent[], reason: string): Promise<number> {
  if (changes.length === 0) return 0;
  await tx.query(
    `INSERT INTO ficus_change_conflicts (topic, key, source, position, commit_time, op, change, reason)
     SELECT t, k, s, p, ct::timestamptz, op, ch::jsonb, $8 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS c(t, k, s, p, ct, op, ch)`,
    [
      changes.map((c) => c.topic),
      changes.map((c) => JSON.stringify(c.key)),
      changes.map((c) => c.source.name),
      changes.map((c) => c.source.position),
      changes.map((c) => c.source.commitTime),
      changes.map((c) => c.op),
      changes.map((c) => JSON.stringify({ before: c.before, after: c.after, origin: c.source.origin })),
      reason,
    ],
  );
  return changes.length;
}
