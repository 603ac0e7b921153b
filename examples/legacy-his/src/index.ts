/**
 * What other packages and tests use of the legacy HIS.
 */
export { buildLegacyHis, type LegacyHisOptions } from './app.js';
export { LegacyHisConfigSchema, loadLegacyHisConfig, type LegacyHisConfig } from './config.js';
export { DEFAULT_MIGRATIONS_DIR, MIGRATIONS_TABLE, migrateLegacy, type MigrateOptions } from './db/migrate-legacy.js';
export { DEFAULT_SEED, DEFAULT_SEED_PATIENTS, seedLegacy, type SeedOptions, type SeedReport } from './seed/seed-database.js';
export { startLegacyHis, type RunningLegacyHis, type StartOptions } from './start-legacy-his.js';
export { startHl7Inbound, DEFAULT_HL7_PORT, DEFAULT_HL7_IDLE_TIMEOUT_MS, type Hl7InboundOptions, type RunningHl7Inbound } from './hl7/hl7-inbound.js';
export { pseudoRandomStream, DOWNLOAD_SEED } from './files/pseudo-random-stream.js';
// the HTTP contract's shapes; all of the contract is `@ficus/legacy-his/contract`
export type { LegacyErrorBody, ErrorDetail, LegacyPatient, LegacyAddress, PatientPage, LegacyEncounter, LegacyLabResult, EncounterList, ResultList } from './contract/index.js';
export type { UploadReceipt } from './files/file-routes.js';
