/**
 * Entry point of the gateway deployable.
 */
import { configOrExit, createLogger, type Logger, runDeployable } from '@ficus/contracts';
import { loadGatewayConfig } from './config.js';
import { startGateway } from './gateway.js';
import { shutdownBoundMs } from './ops/shutdown.js';

const config = configOrExit('gateway', () => loadGatewayConfig());
const log = createLogger('gateway', { level: config.LOG_LEVEL });

await runDeployable({
  name: 'gateway',
  log,
  start: () => startGateway(config, log),
  finishing: 'finishing in-flight requests',
  // the drain (FICUS_SHUTDOWN_TIMEOUT_MS) and a margin: past it the process exits whatever is left
  shutdownTimeoutMs: shutdownBoundMs(config),
  // the access log has its own destination: its last lines are flushed too
  logs: (gateway) => [gateway.runtime.accessLog].filter((l): l is Logger => l !== undefined),
});
