/**
 * The entry point's part every service shares: start, log where it listens, and on SIGTERM or
 * SIGINT close (in-flight requests and queue jobs finish, cut after the timeout), then exit
 * once the logs are written.
 */
import { exitAfterFlush, type Logger } from '@ficus/contracts';

export interface Closable {
  close(): Promise<void>;
}

export async function runService(name: string, log: Logger, shutdownTimeoutMs: number, start: () => Promise<Closable>): Promise<void> {
  try {
    const running = await start();
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down: finishing in-flight requests and queue jobs');
      const force = setTimeout(() => exitAfterFlush(1, log), shutdownTimeoutMs + 2_000);
      running.close().then(
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
    log.fatal({ err: (e as Error).message }, `${name} failed to start`);
    process.stderr.write(`${name} failed to start: ${(e as Error).message}\n`);
    exitAfterFlush(1, log);
  }
}
