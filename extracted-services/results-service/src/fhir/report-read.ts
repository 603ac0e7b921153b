/**
 * Reading a DiagnosticReport by id: an id of the current form (patient + order, report-id.ts)
 * is the report; an id of the old form (the order alone) is sent on to the one patient's report
 * it names, or, when the order number is several patients', answered with the choices, never
 * with their results mixed.
 */
import type pg from 'pg';
import { queryResults, type ResultFhirRow } from './observation-resource.js';
import { legacyOrderOf, parseReportId, reportHash, reportId } from './report-id.js';

export type ReportRead =
  | { kind: 'found'; order: string; rows: ResultFhirRow[] }
  | { kind: 'moved'; id: string }
  | { kind: 'ambiguous'; order: string; ids: string[] }
  | { kind: 'none' };

/** the results (oldest first) of the report an id of the current form names */
async function currentForm(pool: pg.Pool, id: string): Promise<ResultFhirRow[]> {
  const key = parseReportId(id);
  if (!key) return [];
  let rows: ResultFhirRow[];
  if ('order' in key) rows = await queryResults(pool, 'r.mrn = $1 AND r.order_number = $2', [key.mrn, key.order]);
  // the hash in SQL: reading all of a patient's results to hash them here stopped at the first 5,000
  else if ('orderHash' in key) rows = await queryResults(pool, `r.mrn = $1 AND left(encode(sha256(convert_to(r.order_number, 'UTF8')), 'hex'), 32) = $2`, [key.mrn, key.orderHash]);
  // only an MRN that is not digits gets this form (none, by the contract): a scan is acceptable
  else rows = await queryResults(pool, `left(encode(sha256(convert_to(r.mrn || E'\\n' || r.order_number, 'UTF8')), 'hex'), 40) = $1`, [key.hash]);
  // the hashed forms are checked against the id itself: a hash prefix could, in principle, name two
  return rows.filter((r) => reportId(r.mrn, r.order_number) === id || ('hash' in key && reportHash(r.mrn, r.order_number) === key.hash)).reverse();
}

export async function readReport(pool: pg.Pool, id: string): Promise<ReportRead> {
  const rows = await currentForm(pool, id);
  const order = legacyOrderOf(id);
  const { rows: owners } =
    order === undefined ? { rows: [] } : await pool.query<{ mrn: string }>('SELECT DISTINCT mrn FROM lab_result WHERE order_number = $1 ORDER BY mrn', [order]);
  const ids = new Set(owners.map((r) => reportId(r.mrn, order!)));
  if (rows[0]) {
    const own = reportId(rows[0].mrn, rows[0].order_number);
    ids.delete(own);
    if (ids.size === 0) return { kind: 'found', order: rows[0].order_number, rows };
    // the id reads both ways (patient + order, and an order number of that spelling): let the client choose
    return { kind: 'ambiguous', order: order!, ids: [own, ...ids] };
  }
  if (ids.size === 1) return { kind: 'moved', id: [...ids][0]! };
  if (ids.size > 1) return { kind: 'ambiguous', order: order!, ids: [...ids] };
  return { kind: 'none' };
}
