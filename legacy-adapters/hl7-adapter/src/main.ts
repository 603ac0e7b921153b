/**
 * Entry point of the HL7 adapter deployable.
 */
import { createLogger, exitAfterFlush } from '@ficus/contracts';
import { startAdapter } from './adapter.js';
import { loadAdapterConfig } from './config.js';

const config = loadAdapterConfig();
const log = createLogger('hl7-adapter', { level: config.LOG_LEVEL });

try {
  const adapter = await startAdapter(config, log);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: answering the messages in hand');
    const force = setTimeout(() => exitAfterFlush(1, log), config.FICUS_SHUTDOWN_TIMEOUT_MS);
    adapter.close().then(
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
  log.fatal({ err: (e as Error).message }, 'HL7 adapter failed to start');
  process.stderr.write(`HL7 adapter failed to start: ${(e as Error).message}\n`);
  exitAfterFlush(1, log);
}
