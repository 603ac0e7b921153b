/**
 * Entry point of the HL7 adapter deployable.
 */
import { configOrExit, createLogger, runDeployable } from '@ficus/contracts';
import { startAdapter } from './adapter.js';
import { loadAdapterConfig } from './config.js';

const config = configOrExit('hl7-adapter', () => loadAdapterConfig());
const log = createLogger('hl7-adapter', { level: config.LOG_LEVEL });

await runDeployable({ name: 'HL7 adapter', log, start: () => startAdapter(config, log), finishing: 'answering the messages in hand', shutdownTimeoutMs: config.FICUS_SHUTDOWN_TIMEOUT_MS });
