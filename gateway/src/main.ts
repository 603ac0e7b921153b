/**
 * Entry point of the gateway deployable.
 */
import { createLogger, exitAfterFlush, type Logger, RuleLoadError } from '@ficus/contracts';
import { loadGatewayConfig } from './config.js';
import { startGateway } from './gateway.js';

const config = loadGatewayConfig();
const log = createLogger('gateway', { level: config.LOG_LEVEL });

try {
  const gateway = await startGateway(config, log);
  const logs = [log, gateway.runtime.accessLog].filter((l): l is Logger => l !== undefined);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    gateway.close().then(
      () => {
        log.info('stopped');
        exitAfterFlush(0, ...logs);
      },
      (e: unknown) => {
        log.error({ err: (e as Error).message }, 'shutdown failed');
        exitAfterFlush(1, ...logs);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (e) {
  if (e instanceof RuleLoadError) {
    log.fatal({ issues: e.issues.length }, e.message);
    process.stderr.write(e.message + '\n');
  } else {
    log.fatal({ err: (e as Error).message }, 'gateway failed to start');
    process.stderr.write(`gateway failed to start: ${(e as Error).message}\n`);
  }
  exitAfterFlush(1, log);
}
