/**
 * Which early (provisional) copy a legacy row coming through CDC is. The key, patient, order
 * and test, is not unique: an order can hold several OBX of one test (two organisms of one
 * culture), and the legacy keeps one LAB_RESULT row per OBX, so the match must be one to one:
 * each legacy row takes at most one early copy and each early copy goes to at most one legacy
 * row (two early copies renamed to one legacy id broke the primary key: dead letters, 2026-12).
 *
 * Neither side keeps the OBX's set id or sub-id (OBX-1, OBX-4); what both keep is the order
 * each made its rows in (the OBX order of the message: the legacy's RESULT_ID, the service's
 * own id). But the legacy's rows of one order come through CDC each in the partition of its
 * own id, so in any order and side by side, and a row's rank among the legacy's is not known
 * when it comes. So a legacy row first takes an early copy holding the same result (value,
 * units, range, flag, status: the same OBX read the same way on both sides), and only the rows
 * left are paired by rank, the n-th left with the n-th left, oldest first. Whichever pairing,
 * the legacy's values then overwrite the copy: a pairing by rank of two different twins is
 * right once both have come, the result's earlier versions only following the other twin.
 *
 * A legacy row arrives at a key when it is new to the service, or when the legacy moved it
 * there (its merge moving a result to the survivor, where this service, told of the merge
 * first, had filed its early copy): a new row takes its early copy's place (its id becomes the
 * legacy's), a moved row makes its early copy redundant (dropped once the move is applied). A
 * legacy row changed in place arrives nowhere: it already met its early copy, if it had one.
 */
import type { ChangeEvent } from '@ficus/contracts';
import { column, keyValue } from '@ficus/service-kit';
import type pg from 'pg';

export interface ResultRow {
  id: string;
  /** patient, order and test */
  key: string;
  /** value, units, range, flag and status */
  content: string;
}

export interface Arrival extends ResultRow {
  /** the row was in the service already, under another key */
  moved: boolean;
}

export interface Partners<A extends ResultRow = Arrival> {
  arrival: A;
  early: ResultRow;
}

const byId = (a: ResultRow, b: ResultRow) => {
  const [x, y] = [BigInt(a.id), BigInt(b.id)];
  return x < y ? -1 : x > y ? 1 : 0;
};

function groupByKey<R extends ResultRow>(rows: readonly R[]): Map<string, R[]> {
  const groups = new Map<string, R[]>();
  for (const r of [...rows].sort(byId)) groups.set(r.key, [...(groups.get(r.key) ?? []), r]);
  return groups;
}

/** Pairs legacy rows arriving at a key with that key's early copies, one to one: same content first, then by rank. */
export function pairEarlyCopies<A extends ResultRow>(arrivals: readonly A[], early: readonly ResultRow[]): Partners<A>[] {
  const copies = groupByKey(early);
  const pairs: Partners<A>[] = [];
  for (const [key, arriving] of groupByKey(arrivals)) {
    const free = [...(copies.get(key) ?? [])];
    const unmatched: A[] = [];
    for (const arrival of arriving) {
      const same = free.findIndex((e) => e.content === arrival.content);
      if (same >= 0) pairs.push({ arrival, early: free.splice(same, 1)[0]! });
      else unmatched.push(arrival);
    }
    unmatched.forEach((arrival, n) => {
      if (n < free.length) pairs.push({ arrival, early: free[n]! });
    });
  }
  return pairs;
}

const keyOf = (mrn: string | null, order: string | null, test: string | null) => JSON.stringify([mrn, order, test]);

/**
 * The legacy rows of `upserts` that arrive at a key, paired with the early copies there, which
 * stay locked to the end of the transaction: feeds of other partitions bringing twins of these
 * rows wait, then see what this one took (the shared early-copy lock lets feeds run side by side).
 */
export async function findEarlyPartners(tx: pg.PoolClient, upserts: readonly ChangeEvent[]): Promise<Partners[]> {
  if (upserts.length === 0) return [];
  const f = (name: string) => column(upserts, name);
  const [mrns, orders, tests] = [f('mrn'), f('orderNumber'), f('testCode')];
  const contents = [f('value'), f('units'), f('referenceRange'), f('abnormalFlag'), f('status')];
  const ids = upserts.map((c) => keyValue(c, 'resultId'));
  const { rows: present } = await tx.query<{ id: string; mrn: string; order_number: string; test_code: string }>(
    'SELECT id::text, mrn, order_number, test_code FROM lab_result WHERE id = ANY($1::bigint[])',
    [ids],
  );
  const where = new Map(present.map((r) => [r.id, keyOf(r.mrn, r.order_number, r.test_code)]));
  const arrivals: Arrival[] = [];
  ids.forEach((id, i) => {
    const key = keyOf(mrns[i]!, orders[i]!, tests[i]!);
    const before = where.get(id);
    if (before === key) return;
    arrivals.push({ id, key, content: JSON.stringify(contents.map((c) => c[i])), moved: before !== undefined });
  });
  if (arrivals.length === 0) return [];
  const wanted = arrivals.map((a) => JSON.parse(a.key) as [string, string, string]);
  // oldest first: the locks are taken in one order by every feed, so two never wait for each other in a cycle
  const { rows: early } = await tx.query<{ id: string; mrn: string; order_number: string; test_code: string; content: (string | null)[] }>(
    `SELECT id::text, mrn, order_number, test_code, ARRAY[value, units, reference_range, abnormal_flag, status::text] AS content
       FROM lab_result
      WHERE provisional AND (mrn, order_number, test_code) IN (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))
      ORDER BY id FOR UPDATE`,
    [wanted.map((k) => k[0]), wanted.map((k) => k[1]), wanted.map((k) => k[2])],
  );
  if (early.length === 0) return [];
  return pairEarlyCopies(
    arrivals,
    early.map((e) => ({ id: e.id, key: keyOf(e.mrn, e.order_number, e.test_code), content: JSON.stringify(e.content) })),
  );
}

/** New legacy rows take their early copy's place: its id becomes the legacy's, its versions follow. */
export async function giveLegacyIds(tx: pg.PoolClient, partners: readonly Partners[]): Promise<void> {
  const taking = partners.filter((p) => !p.arrival.moved);
  if (taking.length === 0) return;
  const params = [taking.map((p) => p.early.id), taking.map((p) => p.arrival.id)];
  await tx.query(
    `UPDATE lab_result r SET id = m.new_id, provisional = false FROM unnest($1::bigint[], $2::bigint[]) AS m(old_id, new_id) WHERE r.id = m.old_id AND r.provisional`,
    params,
  );
  await tx.query(`UPDATE lab_result_version v SET result_id = m.new_id FROM unnest($1::bigint[], $2::bigint[]) AS m(old_id, new_id) WHERE v.result_id = m.old_id`, params);
}

/** The early copies of legacy rows moved to their key are dropped (with their versions) once the move is applied. */
export async function dropCopiesOfMovedRows(tx: pg.PoolClient, partners: readonly Partners[], applied: ReadonlySet<string>): Promise<void> {
  const gone = partners.filter((p) => p.arrival.moved && applied.has(p.arrival.id)).map((p) => p.early.id);
  if (gone.length === 0) return;
  await tx.query(
    `WITH gone AS (DELETE FROM lab_result WHERE id = ANY($1::bigint[]) AND provisional RETURNING id)
     DELETE FROM lab_result_version v USING gone WHERE v.result_id = gone.id`,
    [gone],
  );
}
