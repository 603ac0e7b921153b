/**
 * The patient table as the legacy contract shows it: read one, search (prefixes, birth date,
 * byte-order sorting, paging), register and update. Writes happen only while the service is
 * the system of record, each in one transaction with the outbox seam.
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
} from '@ficus/legacy-his/contract';
import type { OutboxSeam } from '../outbox-seam.js';
import { patientTopicRow } from '../cdc/patient-topic.js';
import type { MrnBlock } from './mrn-block.js';

/** the patient table's columns as the contract's neutral record (patientJson) */
export const PATIENT_COLUMNS = `p.mrn, p.family_name AS "lastName", p.given_name AS "firstName", p.middle_name AS "middleName",
  ${sqlDate('p.birth_date')} AS "dateOfBirth", p.sex, p.address_line AS line1, p.city, p.state, p.postal_code AS zip, p.phone,
  p.marital_status AS "maritalStatus", p.active, ${sqlTimestamp('p.created_at')} AS created, ${sqlTimestamp('p.updated_at')} AS "lastUpdated",
  p.updated_by AS "lastUpdatedBy"`;

/** by name in byte order ("C" collation), then MRN, as the legacy lists patients */
const PATIENT_ORDER = 'p.family_name, p.given_name, p.mrn';

export class PatientStore implements PatientRepository {
  constructor(
    private readonly pool: pg.Pool,
    private readonly mrns: MrnBlock,
    private readonly outbox: OutboxSeam,
  ) {}

  async findByMrn(mrn: string): Promise<LegacyPatient | undefined> {
    const { rows } = await this.pool.query<PatientRecord>(`SELECT ${PATIENT_COLUMNS} FROM patient p WHERE p.mrn = $1`, [mrn]);
    return rows[0] && patientJson(rows[0]);
  }

  async exists(mrn: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('SELECT 1 FROM patient WHERE mrn = $1', [mrn]);
    return (rowCount ?? 0) > 0;
  }

  async search(q: PatientSearch): Promise<{ total: number; items: LegacyPatient[] }> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (q.lastNamePrefix) {
      values.push(likePrefix(q.lastNamePrefix));
      where.push(`p.family_name LIKE $${values.length}`);
    }
    if (q.firstNamePrefix) {
      values.push(likePrefix(q.firstNamePrefix));
      where.push(`p.given_name LIKE $${values.length}`);
    }
    if (q.dob) {
      values.push(q.dob);
      where.push(`p.birth_date = $${values.length}::date`);
    }
    const filter = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const [count, page] = await Promise.all([
      this.pool.query<{ total: number }>(`SELECT count(*)::int AS total FROM patient p ${filter}`, values),
      this.pool.query<PatientRecord>(`SELECT ${PATIENT_COLUMNS} FROM patient p ${filter} ORDER BY ${PATIENT_ORDER} LIMIT $${values.length + 1} OFFSET $${values.length + 2}`, [
        ...values,
        q.limit,
        q.offset,
      ]),
    ]);
    return { total: count.rows[0]?.total ?? 0, items: page.rows.map(patientJson) };
  }

  /** Registers a patient under the next MRN of the service's block (see mrn-block.ts). */
  async insert(f: PatientFields, user: string): Promise<LegacyPatient> {
    return this.inTransaction(async (tx) => {
      const mrn = await this.mrns.assign(tx);
      const { rows } = await tx.query<PatientRecord>(
        `INSERT INTO patient AS p (mrn, family_name, given_name, middle_name, birth_date, sex, address_line, city, state, postal_code, phone,
           marital_status, active, updated_by, local_changed_at)
         VALUES ($1, $2, $3, $4, $5::date, $6, $7, $8, $9, $10, $11, $12, $13, $14, clock_timestamp())
         RETURNING ${PATIENT_COLUMNS}`,
        [mrn, ...patientFieldValues(f), user],
      );
      const patient = patientJson(rows[0]!);
      await this.outbox(tx, { topic: 'patients', op: 'create', key: { mrn }, before: null, after: patientTopicRow(patient) });
      return patient;
    });
  }

  /** An update that changes nothing writes nothing: lastUpdated, lastUpdatedBy and the ETag stay as they were. */
  async update(mrn: string, f: PatientFields, user: string, precondition: (current: LegacyPatient) => boolean): Promise<UpdateOutcome> {
    return this.inTransaction(async (tx) => {
      const current = await tx.query<PatientRecord>(`SELECT ${PATIENT_COLUMNS} FROM patient p WHERE p.mrn = $1 FOR UPDATE`, [mrn]);
      const row = current.rows[0];
      if (!row) return { kind: 'not-found' };
      const before = patientJson(row);
      if (!precondition(before)) return { kind: 'precondition-failed' };
      const updated = await tx.query<PatientRecord>(
        `UPDATE patient AS p
            SET family_name = $2, given_name = $3, middle_name = $4, birth_date = $5::date, sex = $6, address_line = $7, city = $8,
                state = $9, postal_code = $10, phone = $11, marital_status = $12, active = $13, updated_by = $14,
                updated_at = LOCALTIMESTAMP(0), local_changed_at = clock_timestamp()
          WHERE p.mrn = $1
            AND (family_name, given_name, middle_name, birth_date, sex, address_line, city, state, postal_code, phone, marital_status, active)
                IS DISTINCT FROM ($2::text, $3::text, $4::text, $5::date, $6::char(1), $7::text, $8::text, $9::text, $10::text, $11::text, $12::char(1), $13::boolean)
        RETURNING ${PATIENT_COLUMNS}`,
        [mrn, ...patientFieldValues(f), user],
      );
      const changed = updated.rows[0];
      if (!changed) return { kind: 'updated', patient: before };
      const patient = patientJson(changed);
      await this.outbox(tx, { topic: 'patients', op: 'update', key: { mrn }, before: patientTopicRow(before), after: patientTopicRow(patient) });
      return { kind: 'updated', patient };
    });
  }

  private async inTransaction<T>(work: (tx: pg.PoolClient) => Promise<T>): Promise<T> {
    const tx = await this.pool.connect();
    try {
      await tx.query('BEGIN');
      const result = await work(tx);
      await tx.query('COMMIT');
      return result;
    } catch (e) {
      await tx.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      tx.release();
    }
  }
}

/** the values of the patient table's updatable columns, in the order the writes here name them */
export function patientFieldValues(f: PatientFields): unknown[] {
  return [f.lastName, f.firstName, f.middleName, f.dateOfBirth, f.sex, f.line1, f.city, f.state, f.zip, f.phone, f.maritalStatus, f.active];
}
