/**
 * The legacy inbound's one query: QRY^A19 (patient query, original mode), answered ADR^A19 with
 * the patient QRD-8 names (merged MRNs followed to their survivor), in the query's delimiters
 * and version. No such patient: MSA AA with no PID, as the standard's "no data" answer is; other
 * queries are refused AR, as an old system does with what it does not know.
 *
 * A birth date the legacy holds but an HL7 date cannot (DTM is YYYY[MM[DD]]: a year BC, or one
 * after 9999, as an old import may have written) is not written at all: PID-7 is left empty,
 * which a receiver reads as "not sent" and keeps what it has (`""` would tell it to delete the
 * birth date, and `00440315` or `100000101` would be another day or no date at all). The answer
 * says so in a warning ERR (102 at PID^1^7, severity W; before v2.5 ERR-1 and MSA-3), without
 * the value: it is patient data.
 */
import { buildAck, encodeMessageBytes, escapeValue, hl7Error, type Hl7Ack, type Hl7Message } from '@ficus/hl7-protocol';
import type pg from 'pg';
import { survivorOf } from './patient-records.js';

interface PatientRow {
  pat_mrn: string;
  pat_last_nm: string;
  pat_first_nm: string;
  pat_mid_nm: string | null;
  /** YYYYMMDD; null when PAT_DOB is empty or not a date DTM can hold */
  dob: string | null;
  /** whether PAT_DOB holds a date DTM cannot hold (BC, after 9999, infinity) */
  dob_unwritable: boolean;
  sex_cd: string;
}

/** PID-7 left empty: why, for the receiver's interface engineer (no value: it is patient data) */
const UNWRITABLE_DOB = {
  ...hl7Error(102, 'PID-7 left empty: the birth date is BC or after 9999, not an HL7 date (DTM)', { segment: 'PID', sequence: 1, field: 7 }),
  severity: 'W',
} as const;

export async function answerQuery(pool: pg.Pool, m: Hl7Message): Promise<Hl7Ack> {
  const h = m.header;
  if (h.messageType !== 'QRY' || h.triggerEvent !== 'A19') {
    return buildAck(m, 'AR', { error: hl7Error(h.messageType === 'QRY' ? 201 : 200, `query ${h.messageType}^${h.triggerEvent} is not supported by the legacy HL7 inbound`, { segment: 'MSH', sequence: 1, field: 9 }) });
  }
  const asked = m.get('QRD-8.1').trim();
  if (asked === '') return buildAck(m, 'AR', { error: hl7Error(101, 'QRD-8 (who subject filter) names no patient', { segment: 'QRD', sequence: 1, field: 8 }) });
  const mrn = await survivorOf(pool, asked);
  const { rows } = await pool.query<PatientRow>(
    // TO_CHAR writes a year BC as the same year AD and one after 9999 with five digits
    `SELECT PAT_MRN, PAT_LAST_NM, PAT_FIRST_NM, PAT_MID_NM, CASE WHEN ${DTM_DATE} THEN TO_CHAR(PAT_DOB, 'YYYYMMDD') END AS DOB,
            (PAT_DOB IS NOT NULL AND NOT ${DTM_DATE}) AS DOB_UNWRITABLE, SEX_CD
       FROM PATIENT_MASTER WHERE PAT_MRN = $1`,
    [mrn],
  );
  return adr(m, rows[0]);
}

/** PAT_DOB is a date DTM's four-digit year can hold */
const DTM_DATE = `PAT_DOB BETWEEN DATE '0001-01-01' AND DATE '9999-12-31'`;

/** ADR^A19: MSH, MSA (and ERR) as an ACK's, the QRD echoed, and the PID */
function adr(m: Hl7Message, p: PatientRow | undefined): Hl7Ack {
  const d = m.delimiters;
  const ack = buildAck(m, 'AA', { answerType: { code: 'ADR', structure: 'ADR_A19' }, ...(p?.dob_unwritable ? { error: UNWRITABLE_DOB } : {}) });
  const v = (s: string) => escapeValue(s, d);
  const [msh, msa, ...err] = ack.text.split('\r').filter((s) => s !== '');
  const segments = [msh!, p ? msa! : `${msa}${d.field}${v('no patient has this MRN')}`, ...err, qrdOf(m)];
  if (p) {
    const name = [v(p.pat_last_nm), v(p.pat_first_nm), v(p.pat_mid_nm ?? '')].join(d.component).replace(new RegExp(`\\${d.component}+$`), '');
    segments.push(['PID', '1', '', [v(p.pat_mrn), '', '', '', 'MR'].join(d.component), '', name, '', p.dob ?? '', v(p.sex_cd)].join(d.field));
  }
  const text = segments.map((s) => `${s}\r`).join('');
  return { ...ack, text, bytes: encodeMessageBytes(text, ack.charset) };
}

/** the query's QRD segment, as received */
function qrdOf(m: Hl7Message): string {
  return m.text.split('\r').find((s) => s.startsWith(`QRD${m.delimiters.field}`)) ?? 'QRD';
}
