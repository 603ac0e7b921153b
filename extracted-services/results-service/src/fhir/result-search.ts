/**
 * The searches of results, a page at a time (fhir-paging.ts): Observations newest collection
 * first, DiagnosticReports (one per patient and order, with all of that order's results) newest
 * first by their first collection. Each page is read with its total in one statement, so the
 * two come from one snapshot. No search is capped: a chart with more results than a page has
 * more pages (a cap of 5,000 rows cut the oldest results of long stays off without a word).
 */
import type pg from 'pg';
import { pageOfRows, pageSql, totalBesidesEmptyPage, type Page, type PageOf, type SortKey } from '@ficus/service-kit';
import { RESULT_FHIR_COLUMNS, type ResultFhirRow } from './observation-resource.js';

/** the results a search is about: a condition on `lab_result r` and its values ($1…) */
export interface ResultFilter {
  where: string;
  values: unknown[];
}

export const OBSERVATION_ORDER: SortKey = { columns: [{ sql: 'r.collected_at', type: 'timestamp' }, { sql: 'r.id', type: 'bigint' }], descending: true };
/** a report by its first (oldest) result: the order of the searches before paging */
export const REPORT_ORDER: SortKey = { columns: [{ sql: 'first_at', type: 'timestamp' }, { sql: 'first_id', type: 'bigint' }], descending: true };

type Keyed = ResultFhirRow & { page_key: string[]; total: number };

export interface Found<T> {
  found: PageOf<T>;
  total: number;
}

async function totalOf(pool: pg.Pool, read: Keyed[], page: Page, countSql: string, values: unknown[]): Promise<number> {
  return read[0]?.total ?? (await totalBesidesEmptyPage(page, async () => (await pool.query<{ total: number }>(countSql, values)).rows[0]!.total));
}

export async function searchObservations(pool: pg.Pool, filter: ResultFilter, page: Page): Promise<Found<ResultFhirRow>> {
  const values = [...filter.values];
  const sql = pageSql(OBSERVATION_ORDER, page, (v) => `$${values.push(v)}`);
  const countSql = `SELECT count(*)::int AS total FROM lab_result r WHERE ${filter.where}`;
  const { rows } = await pool.query<Keyed>(
    `SELECT ${RESULT_FHIR_COLUMNS}, ARRAY[r.collected_at::text, r.id::text] AS page_key, (${countSql}) AS total
       FROM lab_result r WHERE ${filter.where}${sql.where ? ` AND ${sql.where}` : ''} ORDER BY ${sql.orderBy} ${sql.limit}`,
    values,
  );
  return { found: pageOfRows<ResultFhirRow>(rows, (r) => (r as Keyed).page_key, page), total: await totalOf(pool, rows, page, countSql, filter.values) };
}

/** each report's results, oldest first, reports in the order read */
function byReport(rows: Keyed[]): Keyed[][] {
  const reports = new Map<string, Keyed[]>();
  for (const r of rows) {
    const key = r.page_key.join('\n');
    reports.set(key, [...(reports.get(key) ?? []), r]);
  }
  return [...reports.values()];
}

export async function searchReports(pool: pg.Pool, filter: ResultFilter, page: Page): Promise<Found<ResultFhirRow[]>> {
  const values = [...filter.values];
  const sql = pageSql(REPORT_ORDER, page, (v) => `$${values.push(v)}`);
  const reports = `SELECT r.mrn, r.order_number, min(r.collected_at) AS first_at, (array_agg(r.id ORDER BY r.collected_at, r.id))[1] AS first_id
                     FROM lab_result r WHERE ${filter.where} GROUP BY r.mrn, r.order_number`;
  const { rows } = await pool.query<Keyed>(
    `WITH report AS (${reports}),
          page AS (SELECT * FROM report${sql.where ? ` WHERE ${sql.where}` : ''} ORDER BY ${sql.orderBy} ${sql.limit})
     SELECT ${RESULT_FHIR_COLUMNS}, ARRAY[page.first_at::text, page.first_id::text] AS page_key, (SELECT count(*)::int FROM report) AS total
       FROM page JOIN lab_result r ON r.mrn = page.mrn AND r.order_number = page.order_number
      ORDER BY ${sql.orderBy}, r.collected_at, r.id`,
    values,
  );
  const found = pageOfRows<ResultFhirRow[]>(byReport(rows), (results) => (results[0] as Keyed).page_key, page);
  return { found, total: await totalOf(pool, rows, page, `SELECT count(*)::int AS total FROM (${reports}) report`, filter.values) };
}
