/**
 * A deployable whose start takes START_MS (or never ends: START_MS=never), for the signal
 * tests of run-deployable.test.ts. It says "starting" once its start is under way, so that
 * the test's signal lands inside the start.
 */
import { createLogger } from '../../src/logger.js';
import { runDeployable } from '../../src/run-deployable.js';

const log = createLogger('slow-start', { level: 'info' });
const startMs = process.env.START_MS ?? '1500';
const timeout = process.env.SHUTDOWN_TIMEOUT_MS;

await runDeployable({
  name: 'slow-start',
  log,
  finishing: 'nothing in hand',
  ...(timeout ? { shutdownTimeoutMs: Number(timeout) } : {}),
  start: async () => {
    log.info('starting');
    if (startMs === 'never') await new Promise(() => setInterval(() => undefined, 60_000));
    else await new Promise((r) => setTimeout(r, Number(startMs)));
    log.info('started');
    // something that keeps the process alive, as a listening server does
    const keepAlive = setInterval(() => undefined, 60_000);
    return {
      close: async () => {
        clearInterval(keepAlive);
        log.info('closed');
      },
    };
  },
});
