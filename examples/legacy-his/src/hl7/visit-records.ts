/**
 * ADMISSION from a PV1 segment, as @ficus/hl7-protocol reads it: a new stay, or the stay of
 * the visit number (PV1-19) updated.
 */
import { admissionTime, admittedAfterDischarge, readVisit, visitChanges, visitOfAnotherPatient, UNKNOWN_WARD, type AdmissionType, type Hl7Message, type VisitChange, type VisitFields } from '@ficus/hl7-protocol';
import type pg from 'pg';
import { changingWrite, localTimestamp, sqlCast, type ColumnWrite } from '../contract/index.js';

/** SQL for a PV1-3.1 parameter as a WARD_CD: the code itself, its HL7_WARD_MAP entry (migration 005), or UNK */
export function wardSql(param: string): string {
  return `COALESCE((SELECT WARD_CD FROM WARD WHERE WARD_CD = ${param}::text),
                   (SELECT WARD_CD FROM HL7_WARD_MAP WHERE POC_CD = ${param}::text), '${UNKNOWN_WARD}')`;
}

/** ADMISSION's column of each value an update may write */
const COLUMNS: Record<VisitChange['field'], Omit<ColumnWrite, 'value'>> = {
  pointOfCare: { column: 'WARD_CD', sql: wardSql },
  bed: { column: 'BED_NO', sql: sqlCast('text') },
  admissionType: { column: 'ADM_TYPE_CD', sql: sqlCast('char(1)') },
  doctor: { column: 'ATTEND_DR_ID', sql: sqlCast('text') },
  admitted: { column: 'ADM_DT', sql: localTimestamp },
};

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

/** The patient's stay discharged last (an A13 without a visit number cancels that discharge), locked for the transaction */
export async function newestDischargedAdmissionOf(tx: pg.PoolClient, mrn: string): Promise<number | undefined> {
  const { rows } = await tx.query<{ adm_id: number }>(
    'SELECT ADM_ID FROM ADMISSION WHERE PAT_MRN = $1 AND DSCH_DT IS NOT NULL ORDER BY DSCH_DT DESC, ADM_DT DESC, ADM_ID DESC LIMIT 1 FOR UPDATE',
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
    if (existing && existing.mrn !== mrn) throw visitOfAnotherPatient(pv1);
    if (existing) {
      await updateVisit(tx, existing.admId, visit, pv1);
      return;
    }
  }
  await tx.query(
    `INSERT INTO ADMISSION (PAT_MRN, ADM_DT, WARD_CD, BED_NO, ADM_TYPE_CD, ATTEND_DR_ID, VISIT_NO)
     VALUES ($1, ${localTimestamp('$2')}, ${wardSql('$3')}, $4, $5, $6, $7)`,
    [mrn, admissionTime(m, visit, pv1), visit.pointOfCare ?? null, visit.bed ?? null, visit.admissionType ?? fallbackType, visit.doctor ?? null, visit.visitNo ?? null],
  );
}

/**
 * Updates the stay with what the PV1 sends (visitChanges). An admit time after the stay's
 * discharge is refused (102). A change that changes nothing writes nothing.
 */
export async function updateVisit(tx: pg.PoolClient, admId: number, visit: VisitFields, pv1 = 1): Promise<void> {
  const changes = visitChanges(visit);
  if (changes.length === 0) return;
  if (visit.admitted !== undefined) {
    const { rows } = await tx.query<{ after: boolean }>(
      `SELECT DSCH_DT < ${localTimestamp('$2')} AS AFTER FROM ADMISSION WHERE ADM_ID = $1`,
      [admId, visit.admitted],
    );
    if (rows[0]?.after) throw admittedAfterDischarge(pv1);
  }
  await writeVisit(tx, admId, changes);
}

/** Writes the changes, and a new visit number when given, to the stay; a write that changes nothing writes nothing. */
export async function writeVisit(tx: pg.PoolClient, admId: number, changes: VisitChange[], visitNo?: string): Promise<void> {
  const writes: ColumnWrite[] = changes.map((c) => ({ ...COLUMNS[c.field], value: c.value }));
  if (visitNo !== undefined) writes.push({ column: 'VISIT_NO', sql: sqlCast('text'), value: visitNo });
  const w = changingWrite(writes, 2);
  if (w.values.length === 0) return;
  await tx.query(`UPDATE ADMISSION SET ${w.set} WHERE ADM_ID = $1 AND ${w.changes}`, [admId, ...w.values]);
}

/** Whether the stay is discharged (its row locked by the caller) */
export async function isDischarged(tx: pg.PoolClient, admId: number): Promise<boolean> {
  const { rows } = await tx.query<{ discharged: boolean }>('SELECT DSCH_DT IS NOT NULL AS DISCHARGED FROM ADMISSION WHERE ADM_ID = $1', [admId]);
  return rows[0]?.discharged === true;
}
