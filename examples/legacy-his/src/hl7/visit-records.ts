/**
 * ADMISSION from a PV1 segment: the visit number (PV1-19) that finds a stay again, the ward
 * and bed (PV1-3), the kind of stay (PV1-2, PV1-4), the attending doctor (PV1-7) and the
 * admission time (PV1-44).
 */
import type { Hl7Message } from '@ficus/hl7-protocol';
import type pg from 'pg';
import { dateTimeField, eventTime, nth } from './message-context.js';
import { admissionType, at, localTimestamp, plainText, refuse, upperText, type AdmissionType, type Update } from './hl7-values.js';

/** the ward of a point of care that is neither a WARD_CD nor in HL7_WARD_MAP (migration 005) */
export const UNKNOWN_WARD = 'UNK';

export interface VisitFields {
  /** PV1-19.1; undefined when the sender gives none */
  visitNo: string | undefined;
  /** PV1-3.1, upper case: mapped to a ward in SQL (wardSql) */
  pointOfCare: string | undefined;
  /** PV1-3.3 */
  bed: Update<string>;
  /** PV1-2 (and PV1-4); undefined when PV1-2 is empty or a class the legacy has no code for */
  admissionType: AdmissionType | undefined;
  /** PV1-7.1, first repetition */
  doctor: Update<string>;
  /** PV1-44 as a ParsedDateTime.timestamp; undefined when empty */
  admitted: string | undefined;
}

/** The visit number of the n-th PV1, or undefined; refused (104) when longer than VISIT_NO holds */
export function visitNumber(m: Hl7Message, pv1 = 1): string | undefined {
  const v = m.get(nth('PV1', pv1, '19.1')).trim();
  if (v === '' || v === '""') return undefined;
  if (v.length > 20) throw refuse(104, 'PV1-19 (the visit number) is longer than the legacy keeps (20)', at('PV1', pv1, 19, 1));
  return v;
}

export function readVisit(m: Hl7Message, pv1 = 1): VisitFields {
  const v = (rest: string) => m.get(nth('PV1', pv1, rest));
  const pointOfCare = upperText(v('3.1'), 40);
  return {
    visitNo: visitNumber(m, pv1),
    pointOfCare: typeof pointOfCare === 'string' ? pointOfCare : undefined,
    bed: upperText(v('3.3'), 6),
    admissionType: admissionType(v('2'), v('4')),
    doctor: plainText(v('7.1'), 10),
    admitted: dateTimeField(m, 'PV1', pv1, 44)?.timestamp,
  };
}

/** SQL for a PV1-3.1 parameter as a WARD_CD: the code itself, its HL7_WARD_MAP entry, or UNK */
export function wardSql(param: string): string {
  return `COALESCE((SELECT WARD_CD FROM WARD WHERE WARD_CD = ${param}::text),
                   (SELECT WARD_CD FROM HL7_WARD_MAP WHERE POC_CD = ${param}::text), '${UNKNOWN_WARD}')`;
}

export interface FoundAdmission {
  admId: number;
  mrn: string;
}

/** The stay with this visit number (any patient), locked for the transaction */
export async function admissionByVisit(tx: pg.PoolClient, visitNo: string): Promise<FoundAdmission | undefined> {
  const { rows } = await tx.query<{ adm_id: number; pat_mrn: string }>('SELECT ADM_ID, PAT_MRN FROM ADMISSION WHERE VISIT_NO = $1 FOR UPDATE', [visitNo]);
  const row = rows[0];
  return row && { admId: row.adm_id, mrn: row.pat_mrn };
}

/** The patient's newest stay still open, locked for the transaction */
export async function openAdmissionOf(tx: pg.PoolClient, mrn: string): Promise<number | undefined> {
  const { rows } = await tx.query<{ adm_id: number }>(
    'SELECT ADM_ID FROM ADMISSION WHERE PAT_MRN = $1 AND DSCH_DT IS NULL ORDER BY ADM_DT DESC, ADM_ID DESC LIMIT 1 FOR UPDATE',
    [mrn],
  );
  return rows[0]?.adm_id;
}

/**
 * An admission (A01) or a registered visit (A04): a new ADMISSION row, or, when the visit
 * number is already the patient's, that row updated. A visit number of another patient is
 * refused (205): the sender has two patients on one visit.
 */
export async function admitOrUpdate(tx: pg.PoolClient, m: Hl7Message, mrn: string, fallbackType: AdmissionType, pv1 = 1): Promise<void> {
  const visit = readVisit(m, pv1);
  if (visit.visitNo !== undefined) {
    const existing = await admissionByVisit(tx, visit.visitNo);
    if (existing && existing.mrn !== mrn) {
      throw refuse(205, 'PV1-19 (the visit number) already belongs to another patient', at('PV1', pv1, 19, 1));
    }
    if (existing) {
      await updateVisit(tx, existing.admId, visit, pv1);
      return;
    }
  }
  const admitted = visit.admitted ?? eventTime(m)?.timestamp;
  if (admitted === undefined) throw refuse(101, 'PV1-44 (the admit date/time) is missing, and so are EVN-6, EVN-2 and MSH-7', at('PV1', pv1, 44));
  await tx.query(
    `INSERT INTO ADMISSION (PAT_MRN, ADM_DT, WARD_CD, BED_NO, ADM_TYPE_CD, ATTEND_DR_ID, VISIT_NO)
     VALUES ($1, ${localTimestamp('$2')}, ${wardSql('$3')}, $4, $5, $6, $7)`,
    [mrn, admitted, visit.pointOfCare ?? null, visit.bed ?? null, visit.admissionType ?? fallbackType, visit.doctor ?? null, visit.visitNo ?? null],
  );
}

/**
 * Updates the stay with what the PV1 sends (an empty field keeps the stored value). An admit
 * time after the stay's discharge is refused (102). A change that changes nothing writes nothing.
 */
export async function updateVisit(tx: pg.PoolClient, admId: number, visit: VisitFields, pv1 = 1): Promise<void> {
  const columns: string[] = [];
  const expressions: string[] = [];
  const values: unknown[] = [admId];
  const set = (column: string, value: unknown, sql: (param: string) => string) => {
    values.push(value);
    columns.push(column);
    expressions.push(sql(`$${values.length}`));
  };
  if (visit.pointOfCare !== undefined) set('WARD_CD', visit.pointOfCare, wardSql);
  if (visit.bed !== undefined) set('BED_NO', visit.bed, (p) => `${p}::text`);
  if (visit.admissionType !== undefined) set('ADM_TYPE_CD', visit.admissionType, (p) => `${p}::char(1)`);
  if (visit.doctor !== undefined) set('ATTEND_DR_ID', visit.doctor, (p) => `${p}::text`);
  if (visit.admitted !== undefined) set('ADM_DT', visit.admitted, localTimestamp);
  if (columns.length === 0) return;
  if (visit.admitted !== undefined) {
    const { rows } = await tx.query<{ after: boolean }>(
      `SELECT DSCH_DT < ${localTimestamp('$2')} AS AFTER FROM ADMISSION WHERE ADM_ID = $1`,
      [admId, visit.admitted],
    );
    if (rows[0]?.after) throw refuse(102, 'PV1-44 (the admit date/time) is after the discharge of this stay', at('PV1', pv1, 44));
  }
  await tx.query(
    `UPDATE ADMISSION SET ${columns.map((c, i) => `${c} = ${expressions[i]}`).join(', ')} WHERE ADM_ID = $1 AND ROW(${columns.join(', ')}) IS DISTINCT FROM ROW(${expressions.join(', ')})`,
    values,
  );
}
