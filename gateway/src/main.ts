/**
 * Entry point of the gateway deployable.
 */
import { configOrExit, createLogger, type Logger, runDeployable } from '@ficus/contracts';
import { loadGatewayConfig } from './config.js';
import { startGateway } from './gateway.js';

const config = configOrExit('gateway', () => loadGatewayConfig());
const log = createLogger('gateway', { level: config.LOG_LEVEL });

await runDeployable({
  name: 'gateway',
  log,
  start: () => startGateway(config, log),
  finishing: 'finishing in-flight requests',
  // the access log has its own destination: its last lines are flushed too
  logs: (gateway) => [gateway.runtime.accessLog].filter((l): l is Logger => l !== undefined),
});
