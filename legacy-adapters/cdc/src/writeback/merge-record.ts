/**
 * Patient merges written back as the legacy records its own (the mapping's `writeBackMerge`,
 * mapping/merge-mapping.ts):
 *
 * - a new merge: in the transaction that inserts its row, the merged-away patient's rows of
 *   each moved table go to the survivor, and a count the service left empty is the number of
 *   rows moved;
 * - a row of a table moved `asLegacyChange` (another service's: results) written back under a
 *   patient the legacy already holds as merged away goes to the survivor, as the legacy's own
 *   inbound files a message naming a merged-away MRN. That is a result results-service filed
 *   before patient-service's merge reached it, whose write-back landed after the merge's.
 *
 * Before 2026-12-07 the merge's row alone was written: patient-service has no result count
 * (results are results-service's), PATIENT_MERGE.RESULT_CNT is NOT NULL, so the merge was a
 * dead letter, and the merged-away patient's results stayed on him in the legacy and, since
 * nothing moved them there either, in results-service.
 */
import type pg from 'pg';
import type { ChangeEvent } from '@ficus/contracts';
import type { CapturedTable } from '../postgres/preflight.js';
import { quoteIdent } from '../postgres/replication-connection.js';
import type { MergeMapping } from '../mapping/merge-mapping.js';
import { asLegacyChange } from './origin-marks.js';

/** how many merges one patient is followed through (a chain longer than this is a loop) */
const MAX_MERGE_CHAIN = 20;

export interface MergeTarget {
  survivor: string;
  merged: string;
  /** the merge table, and its survivor, merged and key columns (quoted catalog names) */
  table: string;
  survivorColumn: string;
  mergedColumn: string;
  keyColumn: string;
  moves: { table: string; column: string; count: string | undefined; asLegacyChange: boolean }[];
}

const quotedTable = (t: CapturedTable) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
const columnNamed = (t: CapturedTable, name: string) => quoteIdent(t.plan.columns.find((c) => c.column.toLowerCase() === name.toLowerCase())!.column);
const columnOfField = (t: CapturedTable, field: string) => quoteIdent(t.plan.columns.find((c) => c.field === field)!.column);

/** The merge mapping of `own` in the catalog's names (checkMapping made sure every table and column is there). */
export function mergeTargetOf(merge: MergeMapping, own: CapturedTable, tables: CapturedTable[]): MergeTarget {
  return {
    survivor: merge.survivor,
    merged: merge.merged,
    table: quotedTable(own),
    survivorColumn: columnOfField(own, merge.survivor),
    mergedColumn: columnOfField(own, merge.merged),
    keyColumn: columnOfField(own, own.mapping.key[0]!),
    moves: merge.moves.map((m) => {
      const t = tables.find((c) => c.mapping.table.toLowerCase() === m.table.toLowerCase())!;
      return { table: quotedTable(t), column: columnNamed(t, m.column), count: m.count, asLegacyChange: m.asLegacyChange };
    }),
  };
}

/**
 * Before a merge event is applied to its table (keyed by `where`): when its row is not there
 * yet, moves the merged-away patient's rows and answers the event with the counts it left empty
 * filled in; when it is (recorded before), answers it without those empty counts, so that the
 * legacy's counts stay.
 */
export async function recordMerge(client: pg.ClientBase, service: string, m: MergeTarget, where: string, keyValues: unknown[], e: ChangeEvent): Promise<ChangeEvent> {
  const after = { ...e.after! };
  const empty = m.moves.map((move) => move.count).filter((f): f is string => f !== undefined && (after[f] === null || after[f] === undefined));
  const { rowCount } = await client.query(`SELECT 1 FROM ${m.table} WHERE ${where}`, keyValues);
  if ((rowCount ?? 0) > 0) {
    for (const f of empty) delete after[f];
    return { ...e, after };
  }
  for (const move of m.moves) {
    const moveRows = () => client.query(`UPDATE ${move.table} SET ${move.column} = $1 WHERE ${move.column} = $2`, [after[m.survivor], after[m.merged]]);
    const moved = move.asLegacyChange ? await asLegacyChange(client, service, moveRows) : await moveRows();
    if (move.count !== undefined && empty.includes(move.count)) after[move.count] = moved.rowCount ?? 0;
  }
  return { ...e, after };
}

/** A table whose rows another service owns follows merges: where it is moved `asLegacyChange`. */
export interface MergeFollower {
  merge: MergeTarget;
  column: string;
}

/** The survivor of the latest merge of `mrn` the legacy holds, or null. */
const latestSurvivorSql = (m: MergeTarget, mrn: string) => `(SELECT ${m.survivorColumn} FROM ${m.table} WHERE ${m.mergedColumn} = ${mrn} ORDER BY ${m.keyColumn} DESC LIMIT 1)`;

/** After a row of a following table was written (keyed by `where`): files it under the survivor when its patient was merged away. */
export async function followMerge(client: pg.ClientBase, service: string, f: MergeFollower, table: string, where: string, keyValues: unknown[]): Promise<void> {
  // one look in the usual case (the patient not merged away)
  const { rows } = await client.query<{ mrn: unknown; survivor: unknown }>(
    `SELECT ${f.column} AS mrn, ${latestSurvivorSql(f.merge, `${table}.${f.column}`)} AS survivor FROM ${table} WHERE ${where}`,
    keyValues,
  );
  const named = rows[0]?.mrn;
  let survivor: unknown = rows[0]?.survivor ?? null;
  if (survivor === null || survivor === named) return;
  // a survivor merged away since, in turn (as the legacy's inbound follows a chain)
  for (let i = 0; i < MAX_MERGE_CHAIN; i++) {
    const next = (await client.query<{ survivor: unknown }>(`SELECT ${latestSurvivorSql(f.merge, '$1')} AS survivor`, [survivor])).rows[0]!.survivor;
    if (next === null || next === named) break;
    survivor = next;
  }
  await asLegacyChange(client, service, () => client.query(`UPDATE ${table} SET ${f.column} = $${keyValues.length + 1} WHERE ${where}`, [...keyValues, survivor]));
}
