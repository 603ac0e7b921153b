/**
 * Runs a purge now and then: the first a while after start (not while a restarted process
 * catches up), then at a fixed interval, one at a time; a failure is logged and tried again
 * at the next turn. `stop` waits for a purge under way.
 */
import type { Logger } from '../logger.js';

export interface PeriodicPurgeOptions {
  /** what is purged, for the log */
  what: string;
  everyMs: number;
  /** the first purge after start (default: a minute, or everyMs when shorter) */
  firstAfterMs?: number;
  log: Logger;
}

export class PeriodicPurge {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly purge: () => Promise<unknown>,
    private readonly o: PeriodicPurgeOptions,
  ) {}

  start(): void {
    this.schedule(this.o.firstAfterMs ?? Math.min(this.o.everyMs, 60_000));
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => this.tick(), ms);
    this.timer.unref();
  }

  private tick(): void {
    this.running = this.purge()
      .catch((e: Error) => this.o.log.warn({ err: e.message }, `${this.o.what} purge failed; trying again later`))
      .finally(() => {
        this.running = undefined;
        if (this.timer) this.schedule(this.o.everyMs);
      });
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

/**
 * Deletes by `deleteBatch` (a statement deleting at most `batch` rows, answering the count)
 * until a batch comes back short: small transactions, so that the work beside never waits on
 * one long delete. Answers the rows deleted.
 */
export async function deleteInBatches(deleteBatch: (batch: number) => Promise<number>, batch: number): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await deleteBatch(batch);
    total += n;
    if (n < batch) return total;
  }
}
