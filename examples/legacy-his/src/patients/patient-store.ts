/**
 * PATIENT_MASTER reads and writes, answering the contract's representation of a patient.
 */
import type pg from 'pg';
import { rollback, withTransaction } from '@ficus/contracts';
import { changingWrite, insertedColumns, patientJson, patientSearchFilter, sqlCast, sqlDate, sqlTimestamp, type ColumnWrite } from '../contract/index.js';
import type { LegacyPatient, PatientFields, PatientRecord, PatientRepository, PatientSearch, UpdateOutcome } from '../contract/index.js';

/** PATIENT_MASTER's columns as the contract's neutral record */
const PATIENT_COLUMNS = `PAT_MRN AS mrn, PAT_LAST_NM AS "lastName", PAT_FIRST_NM AS "firstName", PAT_MID_NM AS "middleName",
  ${sqlDate('PAT_DOB')} AS "dateOfBirth", SEX_CD AS sex, ADDR_LINE1 AS line1, CITY_NM AS city, STATE_CD AS state, ZIP_CD AS zip,
  PHONE_NO AS phone, MARITAL_CD AS "maritalStatus", ACTIVE_FLG = 'Y' AS active, ${sqlTimestamp('CREATE_DT')} AS created,
  ${sqlTimestamp('LAST_UPD_DT')} AS "lastUpdated", LAST_UPD_USER AS "lastUpdatedBy"`;

/** patients sort by name in byte order (the columns use the "C" collation), then MRN */
const PATIENT_ORDER = 'PAT_LAST_NM, PAT_FIRST_NM, PAT_MRN';

/** PATIENT_MASTER's column of each field a registration or an update writes */
const FIELD_COLUMNS: Record<keyof PatientFields, Omit<ColumnWrite, 'value'>> = {
  lastName: { column: 'PAT_LAST_NM', sql: sqlCast('text') },
  firstName: { column: 'PAT_FIRST_NM', sql: sqlCast('text') },
  middleName: { column: 'PAT_MID_NM', sql: sqlCast('text') },
  dateOfBirth: { column: 'PAT_DOB', sql: sqlCast('date') },
  sex: { column: 'SEX_CD', sql: sqlCast('char(1)') },
  line1: { column: 'ADDR_LINE1', sql: sqlCast('text') },
  city: { column: 'CITY_NM', sql: sqlCast('text') },
  state: { column: 'STATE_CD', sql: sqlCast('char(2)') },
  zip: { column: 'ZIP_CD', sql: sqlCast('text') },
  phone: { column: 'PHONE_NO', sql: sqlCast('text') },
  maritalStatus: { column: 'MARITAL_CD', sql: sqlCast('char(1)') },
  active: { column: 'ACTIVE_FLG', sql: sqlCast('char(1)') },
};

/** The writes of the fields given (all, or the ones an HL7 message changes) to PATIENT_MASTER; ACTIVE_FLG is Y or N. */
export function patientWrites(fields: Partial<PatientFields>): ColumnWrite[] {
  return (Object.keys(FIELD_COLUMNS) as (keyof PatientFields)[])
    .filter((field) => fields[field] !== undefined)
    .map((field) => ({ ...FIELD_COLUMNS[field], value: field === 'active' ? (fields.active ? 'Y' : 'N') : fields[field] }));
}

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
    const { filter, values } = patientSearchFilter(q, { lastName: 'PAT_LAST_NM', firstName: 'PAT_FIRST_NM', dateOfBirth: 'PAT_DOB' });
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
    const w = insertedColumns(patientWrites(f), 1);
    const { rows } = await this.pool.query<PatientRecord>(
      `INSERT INTO PATIENT_MASTER (${w.columns}, LAST_UPD_USER) VALUES (${w.params}, $${w.values.length + 1}) RETURNING ${PATIENT_COLUMNS}`,
      [...w.values, user],
    );
    const row = rows[0];
    if (!row) throw new Error('INSERT returned no row');
    return patientJson(row);
  }

  /** An update that changes nothing writes nothing: LAST_UPD_DT, LAST_UPD_USER and the ETag stay as they were. */
  async update(mrn: string, f: PatientFields, user: string, precondition: (current: LegacyPatient) => boolean): Promise<UpdateOutcome> {
    return withTransaction(this.pool, async (client) => {
      const current = await client.query<PatientRecord>(`SELECT ${PATIENT_COLUMNS} FROM PATIENT_MASTER WHERE PAT_MRN = $1 FOR UPDATE`, [mrn]);
      const row = current.rows[0];
      if (!row) return rollback<UpdateOutcome>({ kind: 'not-found' });
      if (!precondition(patientJson(row))) return rollback<UpdateOutcome>({ kind: 'precondition-failed' });
      const w = changingWrite(patientWrites(f), 2);
      const updated = await client.query<PatientRecord>(
        `UPDATE PATIENT_MASTER SET ${w.set}, LAST_UPD_USER = $${w.values.length + 2} WHERE PAT_MRN = $1 AND ${w.changes} RETURNING ${PATIENT_COLUMNS}`,
        [mrn, ...w.values, user],
      );
      return { kind: 'updated', patient: patientJson(updated.rows[0] ?? row) };
    });
  }
}
