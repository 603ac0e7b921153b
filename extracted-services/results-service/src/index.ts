/**
 * What the demo and the tests use of results-service.
 */
export { startResultsService, SERVICE_NAME, CDC_TOPICS, type RunningResultsService, type StartExtras } from './start-results-service.js';
export { loadResultsServiceConfig, ResultsServiceConfigSchema, resultsServiceDatabaseUrl, type ResultsServiceConfig } from './config.js';
export { HttpPatientDirectory, PatientServiceUnavailable, type PatientDirectory } from './patient-directory.js';
export type { ApiLabResult } from './results/result-store.js';
export type { ResultList } from './results/result-routes.js';
