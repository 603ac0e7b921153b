/**
 * Entry point of the patient-service deployable.
 */
import { configOrExit, createLogger } from '@ficus/contracts';
import { runService } from '@ficus/service-kit';
import { loadPatientServiceConfig } from './config.js';
import { SERVICE_NAME, startPatientService } from './start-patient-service.js';

const config = configOrExit(SERVICE_NAME, () => loadPatientServiceConfig());
const log = createLogger(SERVICE_NAME, { level: config.LOG_LEVEL });
await runService(SERVICE_NAME, log, config.SERVICE_SHUTDOWN_TIMEOUT_MS, () => startPatientService(config, log));
