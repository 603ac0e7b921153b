/**
 * What the demo and the tests use of results-service.
 */
export { startResultsService, SERVICE_NAME, CDC_TOPICS, type RunningResultsService, type StartExtras } from './start-results-service.js';
export { loadResultsServiceConfig, ResultsServiceConfigSchema, resultsServiceDatabaseUrl, type ResultsServiceConfig } from './config.js';
export { HttpPatientDirectory, PatientServiceUnavailable, type PatientDirectory } from './patient-directory.js';
// the shapes of its legacy API are the contract's (@ficus/legacy-his/contract)
export type { LegacyLabResult as ApiLabResult, ResultList } from '@ficus/legacy-his/contract';
