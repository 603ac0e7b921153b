/**
 * PATIENT_MASTER reads and writes, answering the API's representation of a patient.
 */
import type pg from 'pg';
import { sqlDate, sqlTimestamp } from '../http/legacy-format.js';
import type { LegacyPatient, PatientFields } from './patient-schemas.js';

interface PatientDbRow {
  pat_mrn: string;
  pat_last_nm: string;
  pat_first_nm: string;
  pat_mid_nm: string | null;
  pat_dob: string;
  sex_cd: LegacyPatient['sex'];
  addr_line1: string | null;
  city_nm: string | null;
  state_cd: string | null;
  zip_cd: string | null;
  phone_no: string | null;
  marital_cd: LegacyPatient['maritalStatus'];
  active_flg: 'Y' | 'N';
  create_dt: string;
  last_upd_dt: string;
  last_upd_user: string;
}

export const PATIENT_COLUMNS = `PAT_MRN, PAT_LAST_NM, PAT_FIRST_NM, PAT_MID_NM, ${sqlDate('PAT_DOB')} AS PAT_DOB, SEX_CD, ADDR_LINE1,
  CITY_NM, STATE_CD, ZIP_CD, PHONE_NO, MARITAL_CD, ACTIVE_FLG, ${sqlTimestamp('CREATE_DT')} AS CREATE_DT,
  ${sqlTimestamp('LAST_UPD_DT')} AS LAST_UPD_DT, LAST_UPD_USER`;

/** patients sort by name in byte order (the columns use the "C" collation), then MRN */
const PATIENT_ORDER = 'PAT_LAST_NM, PAT_FIRST_NM, PAT_MRN';

export function toLegacyPatient(r: PatientDbRow): LegacyPatient {
  return {
    mrn: r.pat_mrn,
    lastName: r.pat_last_nm,
    firstName: r.pat_first_nm,
    middleName: r.pat_mid_nm,
    dateOfBirth: r.pat_dob,
    sex: r.sex_cd,
    address: { line1: r.addr_line1, city: r.city_nm, state: r.state_cd, zip: r.zip_cd },
    phone: r.phone_no,
    maritalStatus: r.marital_cd,
    active: r.active_flg === 'Y',
    created: r.create_dt,
    lastUpdated: r.last_upd_dt,
    lastUpdatedBy: r.last_upd_user,
  };
}

export interface PatientSearch {
  lastNamePrefix?: string;
  firstNamePrefix?: string;
  dob?: string;
  limit: number;
  offset: number;
}

const likePrefix = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';

export type UpdateOutcome = { kind: 'not-found' } | { kind: 'precondition-failed' } | { kind: 'updated'; patient: LegacyPatient };

export class PatientStore {
  constructor(private readonly pool: pg.Pool) {}

  async findByMrn(mrn: string): Promise<LegacyPatient | undefined> {
    const { rows } = await this.pool.query<PatientDbRow>(`SELECT ${PATIENT_COLUMNS} FROM PATIENT_MASTER WHERE PAT_MRN = $1`, [mrn]);
    return rows[0] && toLegacyPatient(rows[0]);
  }

  async exists(mrn: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('SELECT 1 FROM PATIENT_MASTER WHERE PAT_MRN = $1', [mrn]);
    return (rowCount ?? 0) > 0;
  }

  async search(q: PatientSearch): Promise<{ total: number; items: LegacyPatient[] }> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (q.lastNamePrefix) {
      values.push(likePrefix(q.lastNamePrefix));
      where.push(`PAT_LAST_NM LIKE $${values.length}`);
    }
    if (q.firstNamePrefix) {
      values.push(likePrefix(q.firstNamePrefix));
      where.push(`PAT_FIRST_NM LIKE $${values.length}`);
    }
    if (q.dob) {
      values.push(q.dob);
      where.push(`PAT_DOB = $${values.length}::date`);
    }
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const [count, page] = await Promise.all([
      this.pool.query<{ total: number }>(`SELECT count(*)::int AS total FROM PATIENT_MASTER ${filter}`, values),
      this.pool.query<PatientDbRow>(
        `SELECT ${PATIENT_COLUMNS} FROM PATIENT_MASTER ${filter} ORDER BY ${PATIENT_ORDER} LIMIT $${values.length + 1} OFFSET $${values.length + 2}`,
        [...values, q.limit, q.offset],
      ),
    ]);
    return { total: count.rows[0]?.total ?? 0, items: page.rows.map(toLegacyPatient) };
  }

  /** registers a patient; the MRN comes from PAT_MRN_SEQ, as in the old registration module */
  async insert(f: PatientFields, user: string): Promise<LegacyPatient> {
    const { rows } = await this.pool.query<PatientDbRow>(
      `INSERT INTO PATIENT_MASTER (PAT_LAST_NM, PAT_FIRST_NM, PAT_MID_NM, PAT_DOB, SEX_CD, ADDR_LINE1, CITY_NM, STATE_CD, ZIP_CD,
         PHONE_NO, MARITAL_CD, ACTIVE_FLG, LAST_UPD_USER)
       VALUES ($1, $2, $3, $4::date, $5, $6, $7, $8, $9, $10, $11, $12, $13)
       RETURNING ${PATIENT_COLUMNS}`,
      [...fieldValues(f), user],
    );
    const row = rows[0];
    if (!row) throw new Error('INSERT returned no row');
    return toLegacyPatient(row);
  }

  /**
   * Replaces the updatable fields. An update that changes nothing writes nothing, so
   * LAST_UPD_DT, LAST_UPD_USER and the ETag stay as they were.
   */
  async update(mrn: string, f: PatientFields, user: string, precondition?: (current: LegacyPatient) => boolean): Promise<UpdateOutcome> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const current = await client.query<PatientDbRow>(`SELECT ${PATIENT_COLUMNS} FROM PATIENT_MASTER WHERE PAT_MRN = $1 FOR UPDATE`, [mrn]);
      const row = current.rows[0];
      if (!row) {
        await client.query('ROLLBACK');
        return { kind: 'not-found' };
      }
      if (precondition && !precondition(toLegacyPatient(row))) {
        await client.query('ROLLBACK');
        return { kind: 'precondition-failed' };
      }
      const updated = await client.query<PatientDbRow>(
        `UPDATE PATIENT_MASTER
            SET PAT_LAST_NM = $2, PAT_FIRST_NM = $3, PAT_MID_NM = $4, PAT_DOB = $5::date, SEX_CD = $6, ADDR_LINE1 = $7, CITY_NM = $8,
                STATE_CD = $9, ZIP_CD = $10, PHONE_NO = $11, MARITAL_CD = $12, ACTIVE_FLG = $13, LAST_UPD_USER = $14
          WHERE PAT_MRN = $1
            AND (PAT_LAST_NM, PAT_FIRST_NM, PAT_MID_NM, PAT_DOB, SEX_CD, ADDR_LINE1, CITY_NM, STATE_CD, ZIP_CD, PHONE_NO, MARITAL_CD, ACTIVE_FLG)
                IS DISTINCT FROM ($2, $3, $4, $5::date, $6::char(1), $7, $8, $9::char(2), $10, $11, $12::char(1), $13::char(1))
        RETURNING ${PATIENT_COLUMNS}`,
        [mrn, ...fieldValues(f), user],
      );
      await client.query('COMMIT');
      return { kind: 'updated', patient: toLegacyPatient(updated.rows[0] ?? row) };
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }
}

function fieldValues(f: PatientFields): unknown[] {
  return [f.lastName, f.firstName, f.middleName, f.dateOfBirth, f.sex, f.line1, f.city, f.state, f.zip, f.phone, f.maritalStatus, f.active];
}
