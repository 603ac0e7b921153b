/**
 * Entry point of the CDC deployable: change-data capture of the legacy database to the new
 * services' queues, and write-back of their outbox events to the legacy database.
 */
import { configOrExit, createLogger, runDeployable } from '@ficus/contracts';
import { startCdc } from './cdc-service.js';
import { loadCdcConfig } from './config.js';

const config = configOrExit('cdc', () => loadCdcConfig());
const log = createLogger('cdc', { level: config.LOG_LEVEL });

await runDeployable({ name: 'CDC', log, start: () => startCdc(config, log), finishing: 'enqueuing the changes in hand', shutdownTimeoutMs: config.FICUS_SHUTDOWN_TIMEOUT_MS });
