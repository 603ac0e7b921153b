/**
 * How long the gateway's shutdown may take, and what ends at the end of its drain.
 *
 * SIGTERM starts a drain of FICUS_SHUTDOWN_TIMEOUT_MS: the data plane and the admin API stop
 * taking connections and close them as they go idle, while requests in flight finish. At its
 * end whatever is left is ended: connections cut, WebSockets closed (1001), admin passthroughs
 * to the HL7 adapter and the CDC reader aborted (their own timeout is 30 s). Then the upstream
 * pools, the last parity flush and the store's pool close, which SHUTDOWN_MARGIN_MS covers;
 * past the bound (drain + margin) the process exits 1 whatever is still running. The
 * manifests' grace periods are above the bound plus their preStop pause
 * (deploy/test/kubernetes.test.ts, docker-compose.test.ts).
 */
export const SHUTDOWN_MARGIN_MS = 3_000;

/** how long after the signal the gateway process exits at the latest */
export function shutdownBoundMs(config: { FICUS_SHUTDOWN_TIMEOUT_MS: number }): number {
  return config.FICUS_SHUTDOWN_TIMEOUT_MS + SHUTDOWN_MARGIN_MS;
}

/** after the drain, time for the last answers (an aborted passthrough's 503) to leave before connections are cut */
export const LAST_ANSWERS_MS = 500;

/** Runs `atEnd` when the drain is over, unless `cancel` comes first. */
export function drainTimer(drainMs: number, atEnd: () => void): { cancel(): void } {
  const timer = setTimeout(atEnd, drainMs);
  timer.unref();
  return { cancel: () => clearTimeout(timer) };
}
