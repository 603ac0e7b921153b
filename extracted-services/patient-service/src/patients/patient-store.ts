/**
 * The patient table as the legacy contract shows it: read one, search (prefixes, birth date,
 * byte-order sorting, paging), register and update. Writes happen only while the service is
 * the system of record, each in one transaction with the outbox seam.
 */
import type pg from 'pg';
import { withTransaction } from '@ficus/contracts';
import { changingWrite, insertedColumns, patientJson, patientSearchFilter, sqlCast, type ColumnWrite } from '@ficus/legacy-his/contract';
import type { LegacyPatient, PatientFields, PatientRecord, PatientRepository, PatientSearch, UpdateOutcome } from '@ficus/legacy-his/contract';
import type { OutboxSeam } from '../outbox-seam.js';
import { patientTopicRow } from '../cdc/patient-topic.js';
import { PATIENT_COLUMNS } from './patient-columns.js';
import { LOCAL_CHANGES, noteLocalChange, type LocalChanges } from './local-changes.js';
import type { MrnBlock } from './mrn-block.js';

export { PATIENT_COLUMNS };

/** by name in byte order ("C" collation), then MRN, as the legacy lists patients */
const PATIENT_ORDER = 'p.family_name, p.given_name, p.mrn';

/** the patient table's column of each field a registration or an update writes */
const FIELD_COLUMNS: Record<keyof PatientFields, Omit<ColumnWrite, 'value'>> = {
  lastName: { column: 'family_name', sql: sqlCast('text') },
  firstName: { column: 'given_name', sql: sqlCast('text') },
  middleName: { column: 'middle_name', sql: sqlCast('text') },
  dateOfBirth: { column: 'birth_date', sql: sqlCast('date') },
  sex: { column: 'sex', sql: sqlCast('char(1)') },
  line1: { column: 'address_line', sql: sqlCast('text') },
  city: { column: 'city', sql: sqlCast('text') },
  state: { column: 'state', sql: sqlCast('text') },
  zip: { column: 'postal_code', sql: sqlCast('text') },
  phone: { column: 'phone', sql: sqlCast('text') },
  maritalStatus: { column: 'marital_status', sql: sqlCast('char(1)') },
  active: { column: 'active', sql: sqlCast('boolean') },
};

/** The writes of the fields given (all, or the ones an HL7 message changes) to the patient table. */
export function patientWrites(fields: Partial<PatientFields>): ColumnWrite[] {
  return (Object.keys(FIELD_COLUMNS) as (keyof PatientFields)[]).filter((field) => fields[field] !== undefined).map((field) => ({ ...FIELD_COLUMNS[field], value: fields[field] }));
}

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
    const { filter, values } = patientSearchFilter(q, { lastName: 'p.family_name', firstName: 'p.given_name', dateOfBirth: 'p.birth_date' });
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
    return withTransaction(this.pool, async (tx) => {
      const mrn = await this.mrns.assign(tx);
      const w = insertedColumns(patientWrites(f), 2);
      const { rows } = await tx.query<PatientRecord>(
        `INSERT INTO patient AS p (mrn, ${w.columns}, updated_by, local_changed_at, local_changed_fields, local_fields_at)
         VALUES ($1, ${w.params}, $${w.values.length + 2}, clock_timestamp(), '{}', clock_timestamp())
         RETURNING ${PATIENT_COLUMNS}`,
        [mrn, ...w.values, user],
      );
      const patient = patientJson(rows[0]!);
      await this.outbox(tx, { topic: 'patients', op: 'create', key: { mrn }, before: null, after: patientTopicRow(patient) });
      return patient;
    });
  }

  /** An update that changes nothing writes nothing: lastUpdated, lastUpdatedBy and the ETag stay as they were. */
  async update(mrn: string, f: PatientFields, user: string, precondition: (current: LegacyPatient) => boolean): Promise<UpdateOutcome> {
    return withTransaction(this.pool, async (tx) => {
      const current = await tx.query<PatientRecord & LocalChanges>(`SELECT ${PATIENT_COLUMNS}, ${LOCAL_CHANGES} FROM patient p WHERE p.mrn = $1 FOR UPDATE`, [mrn]);
      const row = current.rows[0];
      if (!row) return { kind: 'not-found' };
      const before = patientJson(row);
      if (!precondition(before)) return { kind: 'precondition-failed' };
      const w = changingWrite(patientWrites(f), 2);
      const updated = await tx.query<PatientRecord>(
        `UPDATE patient AS p SET ${w.set}, updated_by = $${w.values.length + 2}, updated_at = LOCALTIMESTAMP(0), local_changed_at = clock_timestamp()
          WHERE p.mrn = $1 AND ${w.changes}
        RETURNING ${PATIENT_COLUMNS}`,
        [mrn, ...w.values, user],
      );
      const changed = updated.rows[0];
      if (!changed) return { kind: 'updated', patient: before };
      const patient = patientJson(changed);
      const image = await noteLocalChange(tx, mrn, { row: patientTopicRow(before), earlier: row }, patientTopicRow(patient));
      await this.outbox(tx, { topic: 'patients', op: 'update', key: { mrn }, before: image, after: patientTopicRow(patient) });
      return { kind: 'updated', patient };
    });
  }
}
