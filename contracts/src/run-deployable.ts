/**
 * The part of every deployable's entry point that is the same: start it, and on SIGTERM or
 * SIGINT close it (the work in hand finishes; after the timeout the process exits anyway), then
 * exit once the logs are written. A start that fails says why, in the log and on stderr, and
 * exits 1.
 */
import { exitAfterFlush, type Logger } from './logger.js';

export interface Closable {
  close(): Promise<void>;
}

export interface RunOptions<T extends Closable> {
  /** the deployable's name in the messages ("gateway failed to start") */
  name: string;
  log: Logger;
  start: () => Promise<T>;
  /** what closing waits for, for the log line ("finishing in-flight requests") */
  finishing: string;
  /** exit 1 when closing has not finished this long after the signal; none: wait for it */
  shutdownTimeoutMs?: number;
  /** more loggers to flush before exiting (an access log) */
  logs?: (running: T) => Logger[];
}

export async function runDeployable<T extends Closable>(o: RunOptions<T>): Promise<T | undefined> {
  const { log } = o;
  let running: T;
  try {
    running = await o.start();
  } catch (e) {
    const message = (e as Error).message;
    log.fatal({ err: message, code: (e as { code?: unknown }).code }, `${o.name} failed to start`);
    process.stderr.write(`${o.name} failed to start: ${message}\n`);
    exitAfterFlush(1, log);
    return undefined;
  }
  const logs = [log, ...(o.logs?.(running) ?? [])];
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `shutting down: ${o.finishing}`);
    const force = o.shutdownTimeoutMs === undefined ? undefined : setTimeout(() => exitAfterFlush(1, ...logs), o.shutdownTimeoutMs);
    running.close().then(
      () => {
        clearTimeout(force);
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
  return running;
}
