/**
 * patient-service's configuration from environment variables; defaults work on a
 * development machine next to a local PostgreSQL and Redis.
 */
import type { Static } from '@sinclair/typebox';
import { configSchema, Env, loadConfig } from '@ficus/contracts';
import { commonServiceEnv, serviceDatabaseUrl, systemOfRecordEnv } from '@ficus/service-kit';

export const PatientServiceConfigSchema = configSchema({
  PATIENT_SERVICE_HOST: Env.string('0.0.0.0', 'address patient-service listens on'),
  PATIENT_SERVICE_PORT: Env.port(8101, 'HTTP port of patient-service'),
  PATIENT_SERVICE_DATABASE_URL: Env.optionalString("patient-service's own database (default: database patient_service on DATABASE_URL's server; created if missing)"),
  PATIENT_SERVICE_SYSTEM_OF_RECORD: systemOfRecordEnv('rules', 'patients, stays and merges', 'patients-write'),
  PATIENT_SERVICE_RECORD_RULE: Env.string('patients-write', 'the rule (HTTP or HL7) whose mode new or retired makes patient-service the system of record (PATIENT_SERVICE_SYSTEM_OF_RECORD=rules)'),
  PATIENT_SERVICE_MRN_FIRST: Env.integer(9_000_000, 'first MRN of the block patient-service assigns from (POST /api/patients as system of record)', 100_000),
  PATIENT_SERVICE_MRN_LAST: Env.integer(9_999_999, 'last MRN of that block (same number of digits as the first)', 100_001),
  PATIENT_SERVICE_MRN_SYSTEM: Env.string('http://hospital.example.org/fhir/sid/mrn', "FHIR identifier system of the hospital's MRNs"),
  PATIENT_SERVICE_VISIT_SYSTEM: Env.string('http://hospital.example.org/fhir/sid/visit-number', 'FHIR identifier system of visit numbers (PV1-19)'),
  PATIENT_SERVICE_WARD_SYSTEM: Env.string('http://hospital.example.org/fhir/sid/ward', 'FHIR identifier system of ward codes'),
  FHIR_BASE_URL: Env.optionalString('base URL of the FHIR endpoints as clients reach them (Bundle fullUrl); default: from each request'),
  ...commonServiceEnv,
});

export type PatientServiceConfig = Static<typeof PatientServiceConfigSchema>;

export function loadPatientServiceConfig(env: NodeJS.ProcessEnv = process.env): PatientServiceConfig {
  return loadConfig(PatientServiceConfigSchema, env);
}

export const patientServiceDatabaseUrl = (c: PatientServiceConfig) => serviceDatabaseUrl(c.PATIENT_SERVICE_DATABASE_URL, c.DATABASE_URL, 'patient_service');
