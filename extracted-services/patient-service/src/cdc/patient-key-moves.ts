/**
 * A legacy key change (a PAT_MRN renamed on a legacy screen) reaches the `patients` feed as a
 * delete of the old MRN carrying `movedTo` and a create of the new one carrying `movedFrom`, on
 * two partitions, in either order. While the service holds the record and has changes of its
 * own of that patient the legacy has not been seen to hold, the delete alone is refused (a newer
 * local change) and the create makes a second person: one real patient, two charts. Here the
 * patient follows the key instead, its own changes still pending: renamed when the create has
 * not come yet (its stays, identifiers and stay deletes with it), else its own fields carried
 * over to the row the create made and the old row dropped; the create then (or the row it made)
 * keeps the service's fields and takes the legacy's others, as a field-by-field merge
 * (patient-merge.ts). The service's write-back of those changes follows the same key change in
 * the legacy writer (legacy-adapters/cdc writeback/gone-rows.ts). Without pending changes of
 * the service's own, the delete and the create go the usual way: the legacy's rows are right.
 */
import type pg from 'pg';
import type { ChangeEvent } from '@ficus/contracts';
import { keyValue, lockEarlyCopies, type SystemOfRecord } from '@ficus/service-kit';
import { applyMerge, COLUMN_OF } from './patient-merge.js';
import { PATIENT_MERGED_FIELDS } from './patient-topic.js';

interface Held {
  /** the fields of the service's own not yet seen in the legacy (all when not known) */
  pending: string[];
  /** its last change of its own */
  changedAt: Date;
}

const isMove = (c: ChangeEvent) => (c.op === 'delete' && c.movedTo !== undefined) || (c.op === 'create' && c.movedFrom !== undefined);
const fromOf = (c: ChangeEvent) => (c.op === 'delete' ? keyValue(c, 'mrn') : String(c.movedFrom!.mrn));
const toOf = (c: ChangeEvent) => (c.op === 'delete' ? String(c.movedTo!.mrn) : keyValue(c, 'mrn'));

/** The rows of these MRNs the service has changed itself, locked. */
async function heldRows(tx: pg.PoolClient, mrns: string[]): Promise<Map<string, Held>> {
  const { rows } = await tx.query<{ mrn: string; pending: string[] | null; known: boolean; changed_at: Date }>(
    `SELECT mrn, local_changed_fields AS pending, local_fields_at IS NOT DISTINCT FROM local_changed_at AS known, local_changed_at AS changed_at FROM patient
      WHERE mrn = ANY($1::text[]) AND local_changed_at IS NOT NULL ORDER BY mrn FOR UPDATE`,
    [mrns],
  );
  return new Map(rows.map((r) => [r.mrn, { pending: r.known ? (r.pending ?? []) : [...PATIENT_MERGED_FIELDS], changedAt: r.changed_at }]));
}

/** The delete alone would be refused (cdcMayDelete), or would drop changes not yet in the legacy. */
const keptByDelete = (old: Held, c: ChangeEvent) => old.pending.length > 0 || c.source.commitTime === null || old.changedAt.getTime() >= Date.parse(c.source.commitTime);

/** Moves what hangs off a patient to another MRN (the rows of `to` win where both have one). */
async function moveDependents(tx: pg.PoolClient, from: string, to: string): Promise<void> {
  await tx.query('UPDATE encounter SET mrn = $2 WHERE mrn = $1', [from, to]);
  await tx.query('UPDATE patient_identifier i SET mrn = $2 WHERE mrn = $1 AND NOT EXISTS (SELECT 1 FROM patient_identifier x WHERE x.mrn = $2 AND x.authority = i.authority AND x.type_code = i.type_code AND x.value = i.value)', [from, to]);
  await tx.query('UPDATE legacy_stay_deletes SET mrn = $2 WHERE mrn = $1 AND NOT EXISTS (SELECT 1 FROM legacy_stay_deletes WHERE mrn = $2)', [from, to]);
}

/**
 * Applies the key changes among `changes` that meet a patient with pending changes of the
 * service's own; answers the changes applied here (the caller applies the others as usual).
 */
export async function followKeyMoves(tx: pg.PoolClient, changes: readonly ChangeEvent[], regime: SystemOfRecord): Promise<ChangeEvent[]> {
  const moves = changes.filter(isMove);
  if (regime !== 'service' || moves.length === 0) return [];
  const mrns = [...new Set(moves.flatMap((c) => [fromOf(c), toOf(c)]))];
  // the delete and the create of one move run on two partitions at once: one waits for the other
  await lockEarlyCopies(tx, 'patient-key-move', mrns, 'handler');
  const handled: ChangeEvent[] = [];
  for (const c of moves) {
    const [from, to] = [fromOf(c), toOf(c)];
    const held = await heldRows(tx, [from, to]);
    if (c.op === 'delete') {
      const old = held.get(from);
      if (!old || !keptByDelete(old, c)) continue;
      const there = ((await tx.query('SELECT 1 FROM patient WHERE mrn = $1', [to])).rowCount ?? 0) > 0;
      if (!there) {
        await tx.query('UPDATE patient SET mrn = $2 WHERE mrn = $1', [from, to]);
        await moveDependents(tx, from, to);
      } else {
        // the create came first: the service's own fields go over to its row
        const set = old.pending.map((f) => `${COLUMN_OF[f]!.column} = o.${COLUMN_OF[f]!.column}`);
        await tx.query(
          `UPDATE patient n SET ${[...set, 'local_changed_at = o.local_changed_at', 'local_changed_fields = o.local_changed_fields', 'local_fields_at = o.local_fields_at', 'local_last_fields = o.local_last_fields'].join(', ')}
             FROM patient o WHERE n.mrn = $2 AND o.mrn = $1`,
          [from, to],
        );
        await moveDependents(tx, from, to);
        await tx.query('DELETE FROM patient WHERE mrn = $1', [from]);
      }
      handled.push(c);
    } else {
      const moved = held.get(to);
      if (!moved) continue;
      // the patient moved here with its own changes: the legacy's other fields are taken, those stay pending
      await applyMerge(tx, c, PATIENT_MERGED_FIELDS.filter((f) => !moved.pending.includes(f)), moved.pending);
      handled.push(c);
    }
  }
  return handled;
}
