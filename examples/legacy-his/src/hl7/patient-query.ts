/**
 * The legacy inbound's one query: QRY^A19 (patient query, original mode), answered ADR^A19 with
 * the patient QRD-8 names (merged MRNs followed to their survivor), in the query's delimiters
 * and version. No such patient: MSA AA with no PID, as the standard's "no data" answer is; other
 * queries are refused AR, as an old system does with what it does not know.
 */
import { buildAck, encodeMessageBytes, escapeValue, hl7Error, type Hl7Ack, type Hl7Message } from '@ficus/hl7-protocol';
import type pg from 'pg';
import { survivorOf } from './patient-records.js';

interface PatientRow {
  pat_mrn: string;
  pat_last_nm: string;
  pat_first_nm: string;
  pat_mid_nm: string | null;
  dob: string;
  sex_cd: string;
}

export async function answerQuery(pool: pg.Pool, m: Hl7Message): Promise<Hl7Ack> {
  const h = m.header;
  if (h.messageType !== 'QRY' || h.triggerEvent !== 'A19') {
    return buildAck(m, 'AR', { error: hl7Error(h.messageType === 'QRY' ? 201 : 200, `query ${h.messageType}^${h.triggerEvent} is not supported by the legacy HL7 inbound`, { segment: 'MSH', sequence: 1, field: 9 }) });
  }
  const asked = m.get('QRD-8.1').trim();
  if (asked === '') return buildAck(m, 'AR', { error: hl7Error(101, 'QRD-8 (who subject filter) names no patient', { segment: 'QRD', sequence: 1, field: 8 }) });
  const mrn = await survivorOf(pool, asked);
  const { rows } = await pool.query<PatientRow>(
    `SELECT PAT_MRN, PAT_LAST_NM, PAT_FIRST_NM, PAT_MID_NM, TO_CHAR(PAT_DOB, 'YYYYMMDD') AS DOB, SEX_CD FROM PATIENT_MASTER WHERE PAT_MRN = $1`,
    [mrn],
  );
  return adr(m, rows[0]);
}

/** ADR^A19: MSH and MSA as an ACK's, the QRD echoed, and the PID */
function adr(m: Hl7Message, p: PatientRow | undefined): Hl7Ack {
  const d = m.delimiters;
  const ack = buildAck(m, 'AA', { answerType: { code: 'ADR', structure: 'ADR_A19' } });
  const v = (s: string) => escapeValue(s, d);
  const [msh, msa] = ack.text.split('\r');
  const segments = [msh!, p ? msa! : `${msa}${d.field}${v('no patient has this MRN')}`, qrdOf(m)];
  if (p) {
    const name = [v(p.pat_last_nm), v(p.pat_first_nm), v(p.pat_mid_nm ?? '')].join(d.component).replace(new RegExp(`\\${d.component}+$`), '');
    segments.push(['PID', '1', '', [v(p.pat_mrn), '', '', '', 'MR'].join(d.component), '', name, '', p.dob, v(p.sex_cd)].join(d.field));
  }
  const text = segments.map((s) => `${s}\r`).join('');
  return { ...ack, text, bytes: encodeMessageBytes(text, ack.charset) };
}

/** the query's QRD segment, as received */
function qrdOf(m: Hl7Message): string {
  return m.text.split('\r').find((s) => s.startsWith(`QRD${m.delimiters.field}`)) ?? 'QRD';
}
