/**
 * Entry point of the results-service deployable.
 */
import { configOrExit, createLogger } from '@ficus/contracts';
import { runService } from '@ficus/service-kit';
import { loadResultsServiceConfig } from './config.js';
import { SERVICE_NAME, startResultsService } from './start-results-service.js';

const config = configOrExit(SERVICE_NAME, () => loadResultsServiceConfig());
const log = createLogger(SERVICE_NAME, { level: config.LOG_LEVEL });
await runService(SERVICE_NAME, log, config.SERVICE_SHUTDOWN_TIMEOUT_MS, () => startResultsService(config, log));
