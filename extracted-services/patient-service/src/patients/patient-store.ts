/**
 * The patient table as the legacy contract shows it: read one, search (prefixes, birth date,
 * byte-order sorting, paging), register and update. Writes happen only while the service is
 * the system of record, each in one transaction with the outbox seam.
 */
import type pg from 'pg';
import { withTransaction } from '@ficus/contracts';
import { changingWrite, insertedColumns, patientJson, patientSearchFilter, sqlCast, sqlDate, sqlTimestamp, type ColumnWrite } from '@ficus/legacy-his/contract';
import type { LegacyPatient, PatientFields, PatientRecord, PatientRepository, PatientSearch, UpdateOutcome } from '@ficus/legacy-his/contract';
import type { OutboxSeam } from '../outbox-seam.js';
import { changedFields, PATIENT_MERGED_FIELDS, patientTopicRow } from '../cdc/patient-topic.js';
import type { MrnBlock } from './mrn-block.js';

/** the patient table's columns as the contract's neutral record (patientJson) */
export const PATIENT_COLUMNS = `p.mrn, p.family_name AS "lastName", p.given_name AS "firstName", p.middle_name AS "middleName",
  ${sqlDate('p.birth_date')} AS "dateOfBirth", p.sex, p.address_line AS line1, p.city, p.state, p.postal_code AS zip, p.phone,
  p.marital_status AS "maritalStatus", p.active, ${sqlTimestamp('p.created_at')} AS created, ${sqlTimestamp('p.updated_at')} AS "lastUpdated",
  p.updated_by AS "lastUpdatedBy"`;

/** what the row says of the service's own changes (patient-merge.ts) */
export interface LocalChanges {
  pending: string[] | null;
  known: boolean;
  local: boolean;
}
export const LOCAL_CHANGES = `p.local_changed_fields AS pending, (p.local_changed_at IS NOT NULL AND p.local_fields_at = p.local_changed_at) AS known,
  p.local_changed_at IS NOT NULL AS local`;

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
      // which fields this service changed and the legacy has yet to hold (patient-merge.ts): an
      // earlier local change that did not say which (an HL7 message) counts as all of them
      const earlier = row.known ? (row.pending ?? []) : row.local ? PATIENT_MERGED_FIELDS : [];
      const pending = [...new Set([...earlier, ...changedFields(patientTopicRow(before), patientTopicRow(patient))])];
      await tx.query('UPDATE patient SET local_changed_fields = $2::text[], local_fields_at = local_changed_at WHERE mrn = $1', [mrn, pending]);
      await this.outbox(tx, { topic: 'patients', op: 'update', key: { mrn }, before: patientTopicRow(before), after: patientTopicRow(patient) });
      return { kind: 'updated', patient };
    });
  }
}
