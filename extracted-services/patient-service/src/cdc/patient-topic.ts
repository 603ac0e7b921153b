/**
 * The `patients` topic's row (CDC-TOPICS.md: the legacy API's field names, the legacy's
 * values: `active` "Y"/"N", local timestamps) to and from patient-service's terms. One mapping
 * for both directions: CDC in, and the outbox out (write-back).
 */
import type { LegacyPatient } from '@ficus/legacy-his/contract';
import { sameValue } from '@ficus/service-kit';

export const PATIENT_TOPIC_FIELDS = [
  'mrn',
  'lastName',
  'firstName',
  'middleName',
  'dateOfBirth',
  'sex',
  'addressLine1',
  'city',
  'state',
  'zip',
  'phone',
  'maritalStatus',
  'active',
  'created',
  'lastUpdated',
  'lastUpdatedBy',
] as const;

/**
 * The fields merged one by one (patient-merge.ts): all but the key. The bookkeeping fields
 * (lastUpdated, lastUpdatedBy) follow the same rule, so both sides end with the same ones, but
 * only a person's fields (PATIENT_DATA_FIELDS) make a conflict worth recording.
 */
export const PATIENT_MERGED_FIELDS: readonly string[] = PATIENT_TOPIC_FIELDS.filter((f) => f !== 'mrn');
export const PATIENT_DATA_FIELDS: readonly string[] = PATIENT_MERGED_FIELDS.filter((f) => !['created', 'lastUpdated', 'lastUpdatedBy'].includes(f));

/** The merged fields a write changed, from the topic rows before and after it. */
export function changedFields(before: PatientTopicRow, after: PatientTopicRow): string[] {
  return PATIENT_MERGED_FIELDS.filter((f) => !sameValue(before[f as keyof PatientTopicRow], after[f as keyof PatientTopicRow]));
}

export type PatientTopicRow = Record<(typeof PATIENT_TOPIC_FIELDS)[number], string | null>;

export function patientTopicRow(p: LegacyPatient): PatientTopicRow {
  return {
    mrn: p.mrn,
    lastName: p.lastName,
    firstName: p.firstName,
    middleName: p.middleName,
    dateOfBirth: p.dateOfBirth,
    sex: p.sex,
    addressLine1: p.address.line1,
    city: p.address.city,
    state: p.address.state,
    zip: p.address.zip,
    phone: p.phone,
    maritalStatus: p.maritalStatus,
    active: p.active ? 'Y' : 'N',
    created: p.created,
    lastUpdated: p.lastUpdated,
    lastUpdatedBy: p.lastUpdatedBy,
  };
}
