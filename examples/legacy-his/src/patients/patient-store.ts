/**
 * PATIENT_MASTER reads and writes, answering the contract's representation of a patient.
 */
import type pg from 'pg';
import {
  likePrefix,
  patientJson,
  sqlDate,
  sqlTimestamp,
  type LegacyPatient,
  type PatientFields,
  type PatientRecord,
  type PatientRepository,
  type PatientSearch,
  type UpdateOutcome,
} from '../contract/index.js';

/** PATIENT_MASTER's columns as the contract's neutral record */
const PATIENT_COLUMNS = `PAT_MRN AS mrn, PAT_LAST_NM AS "lastName", PAT_FIRST_NM AS "firstName", PAT_MID_NM AS "middleName",
  ${sqlDate('PAT_DOB')} AS "dateOfBirth", SEX_CD AS sex, ADDR_LINE1 AS line1, CITY_NM AS city, STATE_CD AS state, ZIP_CD AS zip,
  PHONE_NO AS phone, MARITAL_CD AS "maritalStatus", ACTIVE_FLG = 'Y' AS active, ${sqlTimestamp('CREATE_DT')} AS created,
  ${sqlTimestamp('LAST_UPD_DT')} AS "lastUpdated", LAST_UPD_USER AS "lastUpdatedBy"`;

/** patients sort by name in byte order (the columns use the "C" collation), then MRN */
const PATIENT_ORDER = 'PAT_LAST_NM, PAT_FIRST_NM, PAT_MRN';

export class PatientStore implements PatientRepository {
  constructor(private readonly pool: pg.Pool) {}

  async findByMrn(mrn: string): Promise<LegacyPatient | undefined> {
    const { rows } = await this.pool.query<PatientRecord>(`SELECT ${PATIENT_COLUMNS} FROM PATIENT_MASTER WHERE PAT_MRN = $1`, [mrn]);
    return rows[0] && patientJson(rows[0]);
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
      this.pool.query<PatientRecord>(
        `SELECT ${PATIENT_COLUMNS} FROM PATIENT_MASTER ${filter} ORDER BY ${PATIENT_ORDER} LIMIT $${values.length + 1} OFFSET $${values.length + 2}`,
        [...values, q.limit, q.offset],
      ),
    ]);
    return { total: count.rows[0]?.total ?? 0, items: page.rows.map(patientJson) };
  }

  /** registers a patient; the MRN comes from PAT_MRN_SEQ, as in the old registration module */
  async insert(f: PatientFields, user: string): Promise<LegacyPatient> {
    const { rows } = await this.pool.query<PatientRecord>(
      `INSERT INTO PATIENT_MASTER (PAT_LAST_NM, PAT_FIRST_NM, PAT_MID_NM, PAT_DOB, SEX_CD, ADDR_LINE1, CITY_NM, STATE_CD, ZIP_CD,
         PHONE_NO, MARITAL_CD, ACTIVE_FLG, LAST_UPD_USER)
       VALUES ($1, $2, $3, $4::date, $5, $6, $7, $8, $9, $10, $11, $12, $13)
       RETURNING ${PATIENT_COLUMNS}`,
      [...patientFieldValues(f), user],
    );
    const row = rows[0];
    if (!row) throw new Error('INSERT returned no row');
    return patientJson(row);
  }

  /** An update that changes nothing writes nothing: LAST_UPD_DT, LAST_UPD_USER and the ETag stay as they were. */
  async update(mrn: string, f: PatientFields, user: string, precondition: (current: LegacyPatient) => boolean): Promise<UpdateOutcome> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const current = await client.query<PatientRecord>(`SELECT ${PATIENT_COLUMNS} FROM PATIENT_MASTER WHERE PAT_MRN = $1 FOR UPDATE`, [mrn]);
      const row = current.rows[0];
      if (!row) {
        await client.query('ROLLBACK');
        return { kind: 'not-found' };
      }
      if (!precondition(patientJson(row))) {
        await client.query('ROLLBACK');
        return { kind: 'precondition-failed' };
      }
      const updated = await client.query<PatientRecord>(
        `UPDATE PATIENT_MASTER
            SET PAT_LAST_NM = $2, PAT_FIRST_NM = $3, PAT_MID_NM = $4, PAT_DOB = $5::date, SEX_CD = $6, ADDR_LINE1 = $7, CITY_NM = $8,
                STATE_CD = $9, ZIP_CD = $10, PHONE_NO = $11, MARITAL_CD = $12, ACTIVE_FLG = $13, LAST_UPD_USER = $14
          WHERE PAT_MRN = $1
            AND (PAT_LAST_NM, PAT_FIRST_NM, PAT_MID_NM, PAT_DOB, SEX_CD, ADDR_LINE1, CITY_NM, STATE_CD, ZIP_CD, PHONE_NO, MARITAL_CD, ACTIVE_FLG)
                IS DISTINCT FROM ($2, $3, $4, $5::date, $6::char(1), $7, $8, $9::char(2), $10, $11, $12::char(1), $13::char(1))
        RETURNING ${PATIENT_COLUMNS}`,
        [mrn, ...patientFieldValues(f), user],
      );
      await client.query('COMMIT');
      return { kind: 'updated', patient: patientJson(updated.rows[0] ?? row) };
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }
}

/** the values of PATIENT_MASTER's updatable columns, in the order the writes here name them */
export function patientFieldValues(f: PatientFields): unknown[] {
  return [f.lastName, f.firstName, f.middleName, f.dateOfBirth, f.sex, f.line1, f.city, f.state, f.zip, f.phone, f.maritalStatus, f.active ? 'Y' : 'N'];
}
