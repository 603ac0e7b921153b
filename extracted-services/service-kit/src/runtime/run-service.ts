/**
 * The entry point's part every service shares (the contracts' runDeployable): start, and on
 * SIGTERM or SIGINT close (in-flight requests and queue jobs finish, cut after the timeout).
 */
import { runDeployable, type Closable, type Logger } from '@ficus/contracts';

export type { Closable };

export async function runService(name: string, log: Logger, shutdownTimeoutMs: number, start: () => Promise<Closable>): Promise<void> {
  await runDeployable({ name, log, start, finishing: 'finishing in-flight requests and queue jobs', shutdownTimeoutMs: shutdownTimeoutMs + 2_000 });
}
