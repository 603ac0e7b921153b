/**
 * GET /export/patients.csv: every patient as CSV, streamed. Rows are read in keyset pages by
 * MRN and written as they come, so memory stays flat whatever the size of the register, and a
 * client that hangs up stops the reading (the stream is destroyed, the generator returns).
 * The export is not a snapshot: a patient registered during a long download may appear.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { sqlDate, sqlTimestamp } from '../contract/postgres.js';

const PAGE_ROWS = 500;

/** the column headers are the legacy column names, as the old export job wrote them */
export const CSV_COLUMNS = [
  'PAT_MRN', 'PAT_LAST_NM', 'PAT_FIRST_NM', 'PAT_MID_NM', 'PAT_DOB', 'SEX_CD', 'ADDR_LINE1', 'CITY_NM', 'STATE_CD', 'ZIP_CD',
  'PHONE_NO', 'MARITAL_CD', 'ACTIVE_FLG', 'LAST_UPD_DT',
] as const;

type CsvRow = Record<Lowercase<(typeof CSV_COLUMNS)[number]>, string | null>;

/** RFC 4180: quote a field holding a comma, quote or line break; double the quotes */
export function csvField(value: string | null): string {
  if (value === null) return '';
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

const toLine = (r: CsvRow) => CSV_COLUMNS.map((c) => csvField(r[c.toLowerCase() as keyof CsvRow])).join(',') + '\r\n';

export async function* patientCsv(pool: pg.Pool): AsyncGenerator<string> {
  yield CSV_COLUMNS.join(',') + '\r\n';
  let after = '';
  for (;;) {
    const { rows } = await pool.query<CsvRow>(
      `SELECT PAT_MRN, PAT_LAST_NM, PAT_FIRST_NM, PAT_MID_NM, ${sqlDate('PAT_DOB')} AS PAT_DOB, SEX_CD, ADDR_LINE1, CITY_NM, STATE_CD,
              ZIP_CD, PHONE_NO, MARITAL_CD, ACTIVE_FLG, ${sqlTimestamp('LAST_UPD_DT')} AS LAST_UPD_DT
         FROM PATIENT_MASTER WHERE PAT_MRN > $1 ORDER BY PAT_MRN LIMIT ${PAGE_ROWS}`,
      [after],
    );
    if (rows.length === 0) return;
    yield rows.map(toLine).join('');
    after = rows[rows.length - 1]?.pat_mrn ?? after;
    if (rows.length < PAGE_ROWS) return;
  }
}

export function registerPatientExport(app: FastifyInstance, pool: pg.Pool) {
  app.get('/export/patients.csv', (_request, reply) => {
    reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', 'attachment; filename="patients.csv"')
      .header('cache-control', 'no-store')
      .send(Readable.from(patientCsv(pool), { objectMode: false }));
  });
}
