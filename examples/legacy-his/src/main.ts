/**
 * Entry point of the legacy HIS deployable.
 */
import { createLogger, exitAfterFlush } from '@ficus/contracts';
import { loadLegacyHisConfig } from './config.js';
import { loggableError } from './contract/errors.js';
import { startLegacyHis } from './start-legacy-his.js';

const config = loadLegacyHisConfig();
const log = createLogger('legacy-his', { level: config.LOG_LEVEL });

const exit = (code: number) => exitAfterFlush(code, log);

try {
  const his = await startLegacyHis(config, log);
  log.info({ port: his.port, hl7Port: his.hl7?.port ?? null }, 'legacy HIS listening');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    his.close().then(
      () => exit(0),
      (e: unknown) => {
        log.error(loggableError(e), 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (e) {
  log.fatal({ ...loggableError(e), err: (e as Error).message }, 'legacy HIS failed to start');
  exit(1);
}
