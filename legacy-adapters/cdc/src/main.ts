/**
 * Entry point of the CDC deployable: change-data capture of the legacy database to the new
 * services' queues, and write-back of their outbox events to the legacy database.
 */
import { createLogger, exitAfterFlush } from '@ficus/contracts';
import { startCdc } from './cdc-service.js';
import { loadCdcConfig } from './config.js';

const config = loadCdcConfig();
const log = createLogger('cdc', { level: config.LOG_LEVEL });

try {
  const cdc = await startCdc(config, log);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: enqueuing the changes in hand');
    const force = setTimeout(() => exitAfterFlush(1, log), config.FICUS_SHUTDOWN_TIMEOUT_MS);
    cdc.close().then(
      () => {
        clearTimeout(force);
        log.info('stopped');
        exitAfterFlush(0, log);
      },
      (e: unknown) => {
        log.error({ err: (e as Error).message }, 'shutdown failed');
        exitAfterFlush(1, log);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (e) {
  log.fatal({ err: (e as Error).message }, 'CDC failed to start');
  process.stderr.write(`CDC failed to start: ${(e as Error).message}\n`);
  exitAfterFlush(1, log);
}
