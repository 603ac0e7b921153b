/**
 * The `patients` topic's row (CDC-TOPICS.md: the legacy API's field names, the legacy's
 * values: `active` "Y"/"N", local timestamps) to and from patient-service's terms. One mapping
 * for both directions: CDC in, and the outbox out (write-back).
 */
import type { LegacyPatient } from '@ficus/legacy-his/contract';

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
