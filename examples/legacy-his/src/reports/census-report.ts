/**
 * GET /reports/census.html: the ward census as the old system's report server printed it,
 * an HTML page built from the open admissions (counts only, no names). It shows dates, not
 * lengths of stay, so the page depends on the data only and not on the day it is printed.
 */
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';

interface CensusRow {
  ward_cd: string;
  ward_desc: string;
  census: number;
  emergency: number;
  elective: number;
  /** admission date of the longest-staying patient still in */
  oldest_admission: string | null;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export async function censusRows(pool: pg.Pool): Promise<CensusRow[]> {
  const { rows } = await pool.query<CensusRow>(
    `SELECT W.WARD_CD, W.WARD_DESC, count(A.ADM_ID)::int AS CENSUS,
            (count(*) FILTER (WHERE A.ADM_TYPE_CD = 'E'))::int AS EMERGENCY,
            (count(*) FILTER (WHERE A.ADM_TYPE_CD = 'I'))::int AS ELECTIVE,
            to_char(min(A.ADM_DT), 'YYYY-MM-DD') AS OLDEST_ADMISSION
       FROM WARD W LEFT JOIN ADMISSION A ON A.WARD_CD = W.WARD_CD AND A.DSCH_DT IS NULL
      GROUP BY W.WARD_CD, W.WARD_DESC
      ORDER BY W.WARD_CD`,
  );
  return rows;
}

export function renderCensus(rows: CensusRow[]): string {
  const total = rows.reduce((sum, r) => sum + r.census, 0);
  const lines = rows.map(
    (r) =>
      `<TR><TD>${escapeHtml(r.ward_cd)}</TD><TD>${escapeHtml(r.ward_desc)}</TD><TD ALIGN="right">${r.census}</TD>` +
      `<TD ALIGN="right">${r.emergency}</TD><TD ALIGN="right">${r.elective}</TD><TD>${r.oldest_admission ?? ''}</TD></TR>`,
  );
  return [
    '<!DOCTYPE html>',
    '<HTML>',
    '<HEAD><META CHARSET="utf-8"><TITLE>WARD CENSUS</TITLE></HEAD>',
    '<BODY>',
    '<H1>WARD CENSUS</H1>',
    '<P>Patients currently admitted, by ward.</P>',
    '<TABLE BORDER="1" CELLPADDING="3" ID="census">',
    '<TR><TH>WARD</TH><TH>DESCRIPTION</TH><TH>CENSUS</TH><TH>EMERGENCY</TH><TH>ELECTIVE</TH><TH>IN SINCE</TH></TR>',
    ...lines,
    `<TR><TH COLSPAN="2">TOTAL</TH><TH ALIGN="right" ID="census-total">${total}</TH><TH></TH><TH></TH><TH></TH></TR>`,
    '</TABLE>',
    '</BODY>',
    '</HTML>',
    '',
  ].join('\n');
}

export function registerCensusReport(app: FastifyInstance, pool: pg.Pool) {
  app.get('/reports/census.html', async (_request, reply) => {
    const html = renderCensus(await censusRows(pool));
    return reply.type('text/html; charset=utf-8').send(html);
  });
}
