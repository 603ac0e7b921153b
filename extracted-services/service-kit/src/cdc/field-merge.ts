/**
 * Field-by-field merge of a legacy change into a row the service has changed itself, while the
 * service is the system of record. Whole rows by commit time lose edits when a legacy screen
 * and the service change one record within the write-back's delay: each side would take the
 * other's whole row. Both sides carry what they changed (CDC its before image under REPLICA
 * IDENTITY FULL, the outbox its `before`), so each takes only what the other changed:
 *
 * - a field the legacy did not change keeps the service's value;
 * - a field the legacy changed, and the service did not change since it last took the legacy's
 *   state, takes the legacy's value;
 * - a field both changed, where the legacy's change was made without the service's value (the
 *   legacy's old value is not the service's), keeps the service's value and is a conflict: the
 *   system of record wins, and the write-back gives the legacy the same value, so both sides
 *   end alike. A legacy change made on top of the service's value is a later, informed edit and
 *   is taken.
 *
 * While the legacy holds the record (`legacyHoldsRecord`: an HL7 message the legacy did not get,
 * applied here and not yet seen written back, or an API write made before a rollback), a pending
 * field keeps the service's value while the legacy has not changed it, and every other field
 * takes the legacy's value, changed by this change or not: the legacy's committed state is the
 * truth there, as a whole-row apply would make it. A pending field the legacy changed without
 * the service's value takes the legacy's too (`yielded`): the system of record wins, and the
 * legacy writer, finding there no longer the value the write-back's before image names, leaves
 * the field as the legacy has it (legacy-adapters/cdc writeback/legacy-apply.ts), so both sides
 * end with the legacy's value and the field is no longer pending. Kept pending, every later
 * legacy edit of it would be refused here for good.
 *
 * Values are compared as text. Whether the legacy changed a field, and whether the service
 * already holds the legacy's new value, are exact comparisons (trailing blanks count in a
 * VARCHAR); whether the legacy's old value was the service's compares across the two stores'
 * representations, so there trailing blanks are dropped (a CHAR column pads what the service
 * wrote).
 */

export interface FieldMergeInput {
  /** the legacy's row before and after its change (topic field names); a field `before` leaves out was not changed */
  before: Readonly<Record<string, unknown>>;
  after: Readonly<Record<string, unknown>>;
  /** the service's row now, in the topic's representation */
  ours: Readonly<Record<string, unknown>>;
  /** the fields the service changed itself that the legacy has not yet been seen to hold */
  pending: ReadonlySet<string>;
  /** the data fields to merge (key and bookkeeping fields left out) */
  fields: readonly string[];
  /** the legacy holds the record: fields not pending take the legacy's value even where this change did not change them */
  legacyHoldsRecord?: boolean;
}

export interface FieldMerge {
  /** fields to take from the legacy's `after` */
  take: string[];
  /** fields both sides changed, the service holding the record: the service's value is kept */
  conflicts: string[];
  /** fields both sides changed, the legacy holding the record: the legacy's value is taken (they are in `take` too) */
  yielded: string[];
  /** the service's changes still pending after this change */
  pending: string[];
}

const text = (v: unknown): string | null => (v === undefined || v === null ? null : typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** true when two values are the same as text (a number and its digits are) */
export function sameValue(a: unknown, b: unknown): boolean {
  return text(a) === text(b);
}

/** true when a value the service holds and one the legacy holds are the same but for a CHAR column's padding */
export function samePadded(a: unknown, b: unknown): boolean {
  return text(a)?.trimEnd() === text(b)?.trimEnd();
}

export function mergeFields(i: FieldMergeInput): FieldMerge {
  const take: string[] = [];
  const conflicts: string[] = [];
  const yielded: string[] = [];
  const pending: string[] = [];
  for (const f of i.fields) {
    // a field the before image leaves out is one this change did not change: SQL Server gives no
    // old value for a large-object column an update did not touch (cdc mssql/update-mask.ts)
    const legacyChanged = Object.hasOwn(i.before, f) && !sameValue(i.before[f], i.after[f]);
    const alike = sameValue(i.ours[f], i.after[f]);
    if (alike) continue; // nothing to take, and the legacy now holds the service's value
    if (!legacyChanged) {
      if (i.pending.has(f)) pending.push(f);
      else if (i.legacyHoldsRecord) take.push(f);
      continue;
    }
    if (i.pending.has(f) && !samePadded(i.ours[f], i.before[f])) {
      if (i.legacyHoldsRecord) {
        take.push(f);
        yielded.push(f);
      } else {
        conflicts.push(f);
        pending.push(f);
      }
    } else {
      take.push(f);
    }
  }
  return { take, conflicts, yielded, pending };
}
