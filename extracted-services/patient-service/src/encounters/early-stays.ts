/**
 * The legacy follows its own merges: an admission for a patient it has merged away is filed
 * under the survivor. While it is the system of record, this service makes an early
 * (provisional) copy of each stay from HL7, which the legacy's copy takes over when it comes
 * through CDC; a stay without a visit number is matched by patient and admission time. When the
 * service and the legacy do not know of a merge at the same moment, the two copies are filed
 * under different patients, never meet, and the stay was kept twice once the merge moved one of
 * them beside the other:
 *
 * - the legacy merged first: the early copy is under the merged patient, the legacy's under the
 *   survivor; the service's A40 moves the early copy (dropEarlyStaysTheSurvivorHolds);
 * - the service merged first: the early copy is under the survivor, the legacy's under the
 *   merged patient until its merge moves it through CDC (dropEarlyStaysLegacyRowsHold).
 *
 * In both, the early copy of a stay a committed row holds is that stay: its transfers (which the
 * legacy does not keep) go to the committed row, and the copy is dropped. Callers hold the
 * encounter lock of the patients (lockEarlyCopies).
 *
 * A stay renumbered by an A06/A07 (MRG-5, the prior visit number) meets the same: the early copy
 * takes the new number at once, and the legacy's row of the stay, when it comes through CDC
 * under its old number before the legacy's renumbering does, matches no copy and is added beside
 * it; the renumbering then finds the copy holding its number (dropEarlyStaysRenumbered).
 */
import type pg from 'pg';

interface EarlyCopy {
  early: string;
  kept: string;
}

async function dropEarlyCopies(tx: pg.PoolClient, copies: EarlyCopy[]): Promise<void> {
  if (copies.length === 0) return;
  const early = copies.map((r) => r.early);
  await tx.query('UPDATE encounter_transfer t SET encounter_id = m.kept FROM unnest($1::bigint[], $2::bigint[]) AS m(early, kept) WHERE t.encounter_id = m.early', [
    early,
    copies.map((r) => r.kept),
  ]);
  await tx.query('DELETE FROM encounter WHERE id = ANY($1::bigint[])', [early]);
}

/** before a merge moves the merged patient's stays: the early copies of stays the survivor holds */
export async function dropEarlyStaysTheSurvivorHolds(tx: pg.PoolClient, merged: string, survivor: string): Promise<void> {
  const { rows } = await tx.query<EarlyCopy>(
    `SELECT p.id AS early, c.id AS kept FROM encounter p
       JOIN LATERAL (SELECT c.id FROM encounter c WHERE NOT c.provisional AND c.mrn = $2 AND c.visit_number IS NULL AND c.admitted_at = p.admitted_at ORDER BY c.id LIMIT 1) c ON true
      WHERE p.provisional AND p.mrn = $1 AND p.visit_number IS NULL`,
    [merged, survivor],
  );
  await dropEarlyCopies(tx, rows);
}

/** after the legacy's stays `ids` were applied: the early copies of those stays under the same patient */
export async function dropEarlyStaysLegacyRowsHold(tx: pg.PoolClient, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const { rows } = await tx.query<EarlyCopy>(
    `SELECT DISTINCT ON (p.id) p.id AS early, c.id AS kept FROM encounter c
       JOIN encounter p ON p.provisional AND p.visit_number IS NULL AND p.mrn = c.mrn AND p.admitted_at = c.admitted_at
      WHERE c.id = ANY($1::bigint[]) AND NOT c.provisional AND c.visit_number IS NULL
      ORDER BY p.id, c.id`,
    [ids],
  );
  await dropEarlyCopies(tx, rows);
}

/**
 * before the legacy's stays of `changes` are applied: an early copy holding the visit number a
 * legacy stay of the same patient, already held here, now carries is that stay's copy,
 * renumbered here first (above). Were the number merely taken from it (visit-numbers.ts), the
 * copy would stay beside the stay for good, numberless.
 */
export async function dropEarlyStaysRenumbered(tx: pg.PoolClient, ids: string[], visits: (string | null)[], mrns: (string | null)[]): Promise<void> {
  if (visits.every((v) => v === null)) return;
  const { rows } = await tx.query<EarlyCopy>(
    `SELECT DISTINCT ON (p.id) p.id AS early, c.id AS kept
       FROM unnest($1::bigint[], $2::text[], $3::text[]) AS c(id, visit, mrn)
       JOIN encounter p ON p.provisional AND p.visit_number = c.visit AND p.mrn = c.mrn AND p.id <> c.id
      WHERE EXISTS (SELECT 1 FROM encounter x WHERE x.id = c.id)
      ORDER BY p.id, c.id`,
    [ids, visits, mrns],
  );
  await dropEarlyCopies(tx, rows);
}
