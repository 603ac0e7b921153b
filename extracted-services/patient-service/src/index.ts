/**
 * What the demo and the tests use of patient-service.
 */
export { startPatientService, SERVICE_NAME, CDC_TOPICS, type RunningPatientService, type StartExtras } from './start-patient-service.js';
export { loadPatientServiceConfig, PatientServiceConfigSchema, patientServiceDatabaseUrl, type PatientServiceConfig } from './config.js';
export { noOutbox, type OutboxSeam, type OutgoingChange } from './outbox-seam.js';
export { patientTopicRow, PATIENT_TOPIC_FIELDS, type PatientTopicRow } from './cdc/patient-topic.js';
// the shapes of its legacy API are the contract's (@ficus/legacy-his/contract)
export type { LegacyPatient as ApiPatient, PatientPage, LegacyEncounter as ApiEncounter, EncounterList } from '@ficus/legacy-his/contract';
