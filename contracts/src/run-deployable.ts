/**
 * The part of every deployable's entry point that is the same: start it, and on SIGTERM or
 * SIGINT close it (the work in hand finishes; after the timeout the process exits anyway), then
 * exit once the logs are written. A signal during the start closes it as soon as the start
 * returns. A start that fails says why, in the log and on stderr, and exits 1.
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
  let running: T | undefined;
  let logs = [log];
  // the signal that arrived while starting, acted on once the start returns
  let pending: string | undefined;
  let stopping = false;
  // the bound counts from the signal, as the kubelet's grace period does, whether it came during the start or after
  let force: NodeJS.Timeout | undefined;
  const bound = () => {
    if (o.shutdownTimeoutMs !== undefined) force ??= setTimeout(() => exitAfterFlush(1, ...logs), o.shutdownTimeoutMs);
  };
  const stop = (signal: string) => {
    if (stopping) return;
    if (!running) {
      if (pending) return;
      pending = signal;
      log.info({ signal }, `${signal} while starting: stopping as soon as the start returns`);
      // a start that hangs (a server that does not answer) is not waited for beyond the bound
      bound();
      return;
    }
    stopping = true;
    const closing = running;
    log.info({ signal }, `shutting down: ${o.finishing}`);
    bound();
    closing.close().then(
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
  // before the start: a process without a handler dies of SIGTERM, except as a container's
  // PID 1 (no init), where the kernel ignores it and the process runs on until SIGKILL
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  try {
    running = await o.start();
  } catch (e) {
    const message = (e as Error).message;
    log.fatal({ err: message, code: (e as { code?: unknown }).code }, `${o.name} failed to start`);
    process.stderr.write(`${o.name} failed to start: ${message}\n`);
    exitAfterFlush(1, log);
    return undefined;
  }
  logs = [log, ...(o.logs?.(running) ?? [])];
  if (pending) stop(pending);
  return running;
}
