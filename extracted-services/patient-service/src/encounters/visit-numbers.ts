/**
 * A visit number belongs to one stay (a unique index: HL7 messages find a stay by it). In the
 * legacy a number moves between stays inside one transaction (a registrar fixing two swapped
 * numbers: NULL on one, X on the other, Y on the first), and CDC brings each stay's change in
 * its own patient's partition, in any order across partitions. Applied as they come, the first
 * change would meet the number still on the other stay, fail on the index, and fail again on
 * every retry and replay, with the stays keeping each other's numbers (a discharge or result
 * sent to the wrong patient's stay) and their partitions' later changes held behind them.
 *
 * So, before a batch is applied, the legacy's newer state wins: a number is taken from the stay
 * holding it when that stay's applied legacy state is older than the change (or it was made
 * from HL7 and never confirmed); that stay's own later change gives it its new number. A change
 * whose number a stay holds by a newer legacy state (this change is the older one) is applied
 * without it, and its own later change brings the right one. In between a stay may have no
 * number for a moment, never a wrong one.
 */
import { comparePositions, type ChangeEvent } from '@ficus/contracts';
import type pg from 'pg';
import { column, keyValue, type ApplyContext } from '@ficus/service-kit';

/** The visit number each upsert may carry now (null where a newer state holds it), after freeing those it takes. */
export async function claimVisitNumbers(tx: pg.PoolClient, upserts: ChangeEvent[], regime: ApplyContext['systemOfRecord']): Promise<(string | null)[]> {
  const ids = upserts.map((c) => keyValue(c, 'admissionId'));
  const visits = column(upserts, 'visitNumber');
  // two stays of one batch claiming one number: the later change keeps it
  const latest = new Map<string, number>();
  visits.forEach((v, i) => {
    if (v === null) return;
    const j = latest.get(v);
    if (j === undefined || comparePositions(upserts[i]!.source.position, upserts[j]!.source.position) > 0) latest.set(v, i);
  });
  const claimed = visits.map((v, i) => (v !== null && latest.get(v) === i ? v : null));
  // most batches (a snapshot's, a bed board's) claim none: no query for them
  if (claimed.every((v) => v === null)) return claimed;
  const mayTake = regime === 'legacy' ? 'TRUE' : '(e.local_changed_at IS NULL OR (c.ct IS NOT NULL AND c.ct::timestamptz > e.local_changed_at))';
  await tx.query(
    `WITH c AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS c(id, visit, pos, ct) WHERE c.visit IS NOT NULL)
     UPDATE encounter e SET visit_number = NULL
       FROM c
      WHERE e.visit_number = c.visit AND e.id <> c.id
        AND (e.committed_position IS NULL OR (length(e.committed_position), e.committed_position) < (length(c.pos), c.pos)) AND ${mayTake}`,
    [ids, claimed, upserts.map((c) => c.source.position), upserts.map((c) => c.source.commitTime)],
  );
  const { rows } = await tx.query<{ visit: string }>(
    'SELECT e.visit_number AS visit FROM encounter e JOIN unnest($1::bigint[], $2::text[]) AS c(id, visit) ON e.visit_number = c.visit AND e.id <> c.id',
    [ids, claimed],
  );
  const held = new Set(rows.map((r) => r.visit));
  return claimed.map((v) => (v !== null && held.has(v) ? null : v));
}
