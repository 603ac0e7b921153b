/**
 * results-service's configuration from environment variables; defaults work on a development
 * machine next to a local PostgreSQL, Redis and patient-service.
 */
import type { Static } from '@sinclair/typebox';
import { configSchema, Env, loadConfig } from '@ficus/contracts';
import { commonServiceEnv, serviceDatabaseUrl, systemOfRecordEnv } from '@ficus/service-kit';

export const ResultsServiceConfigSchema = configSchema({
  RESULTS_SERVICE_HOST: Env.string('0.0.0.0', 'address results-service listens on'),
  RESULTS_SERVICE_PORT: Env.port(8102, 'HTTP port of results-service'),
  RESULTS_SERVICE_DATABASE_URL: Env.optionalString("results-service's own database (default: database results_service on DATABASE_URL's server; created if missing)"),
  RESULTS_SERVICE_SYSTEM_OF_RECORD: systemOfRecordEnv('rules', 'laboratory results', 'lab-results'),
  RESULTS_SERVICE_RECORD_RULE: Env.string('lab-results', 'the rule (HTTP or HL7) whose mode new or retired makes results-service the system of record (RESULTS_SERVICE_SYSTEM_OF_RECORD=rules)'),
  PATIENT_SERVICE_URL: Env.string('http://127.0.0.1:8101', "patient-service's HTTP API: whether a patient exists, merges, the stay of a visit number"),
  PATIENT_SERVICE_FHIR_BASE_URL: Env.optionalString(
    "patient-service's FHIR base as clients reach it: Observations and DiagnosticReports reference their Patient and Encounter there, by absolute URL (default: PATIENT_SERVICE_URL + /fhir)",
  ),
  PATIENT_SERVICE_TIMEOUT_MS: Env.integer(5_000, 'longest wait for patient-service', 100),
  RESULTS_SERVICE_PROVISIONAL_CHECK_MS: Env.integer(
    10_000,
    "how often results taken from HL7 and not yet confirmed by the legacy's CDC (provisional), this old, are checked for a merge patient-service learnt of since; 0: never",
    0,
  ),
  RESULTS_SERVICE_ORDER_SYSTEM: Env.string('http://hospital.example.org/fhir/sid/lab-order', 'FHIR identifier system of laboratory order numbers'),
  RESULTS_SERVICE_TEST_SYSTEM: Env.string('http://hospital.example.org/fhir/CodeSystem/lab-test', 'FHIR code system of test codes that are not LOINC codes'),
  FHIR_BASE_URL: Env.optionalString('base URL of the FHIR endpoints as clients reach them (Bundle fullUrl); default: from each request'),
  ...commonServiceEnv,
});

export type ResultsServiceConfig = Static<typeof ResultsServiceConfigSchema>;

export function loadResultsServiceConfig(env: NodeJS.ProcessEnv = process.env): ResultsServiceConfig {
  return loadConfig(ResultsServiceConfigSchema, env);
}

export const resultsServiceDatabaseUrl = (c: ResultsServiceConfig) => serviceDatabaseUrl(c.RESULTS_SERVICE_DATABASE_URL, c.DATABASE_URL, 'results_service');
