/**
 * patient-service's rows as the topics' rows for the outbox seam (see the kit's outbox-seam.ts):
 * `patients`, `admissions` and `patient-merges` under CDC-TOPICS.md's names and the legacy's
 * values, read back after the change inside its transaction.
 */
import type pg from 'pg';
import { patientJson, sqlTimestamp, type PatientRecord } from '@ficus/legacy-his/contract';
import type { OutboxSeam, OutgoingChange } from '@ficus/service-kit';
import { patientTopicRow } from './cdc/patient-topic.js';
import { PATIENT_COLUMNS } from './patients/patient-columns.js';
import { noteLocalChange, type BeforeLocalChange } from './patients/local-changes.js';

export { noOutbox, outboxTable, type OutboxSeam, type OutgoingChange } from '@ficus/service-kit';

/**
 * Hands a patient changed by an HL7 message to the outbox: with `before` (the row before the
 * message, hl7/touched.ts) an update carries what it changed and what is still pending from
 * earlier changes, and the fields are noted as the service's own (patients/local-changes.ts);
 * without it, the whole row.
 */
export async function patientChanged(outbox: OutboxSeam, tx: pg.PoolClient, mrn: string, op: OutgoingChange['op'], before: BeforeLocalChange | null = null): Promise<void> {
  const { rows } = await tx.query<PatientRecord>(`SELECT ${PATIENT_COLUMNS} FROM patient p WHERE p.mrn = $1`, [mrn]);
  if (!rows[0]) return;
  const after = patientTopicRow(patientJson(rows[0]));
  const image = op === 'create' || before ? await noteLocalChange(tx, mrn, before, after) : null;
  await outbox(tx, { topic: 'patients', op, key: { mrn }, before: image, after });
}

export async function stayChanged(outbox: OutboxSeam, tx: pg.PoolClient, id: string, op: OutgoingChange['op']): Promise<void> {
  const { rows } = await tx.query<Record<string, unknown>>(
    `SELECT id::int AS "admissionId", mrn, ${sqlTimestamp('admitted_at')} AS "admitDate", ${sqlTimestamp('discharged_at')} AS "dischargeDate", ward_code AS ward,
            bed, encounter_class AS "admissionType", attending_doctor_id AS "attendingDoctorId", discharge_disposition AS "dischargeDisposition",
            visit_number AS "visitNumber", ${sqlTimestamp('updated_at')} AS "lastUpdated"
       FROM encounter WHERE id = $1`,
    [id],
  );
  if (rows[0]) await outbox(tx, { topic: 'admissions', op, key: { admissionId: rows[0].admissionId }, before: null, after: rows[0] });
}

export async function mergeRecorded(outbox: OutboxSeam, tx: pg.PoolClient, id: string): Promise<void> {
  const { rows } = await tx.query<Record<string, unknown>>(
    `SELECT id::int AS "mergeId", survivor_mrn AS "survivorMrn", merged_mrn AS "mergedMrn", encounter_count AS "admissionCount", result_count AS "resultCount",
            sending_facility AS "sendingFacility", control_id AS "controlId", ${sqlTimestamp('merged_at')} AS "mergedAt"
       FROM patient_merge WHERE id = $1`,
    [id],
  );
  if (rows[0]) await outbox(tx, { topic: 'patient-merges', op: 'create', key: { mergeId: rows[0].mergeId }, before: null, after: rows[0] });
}
