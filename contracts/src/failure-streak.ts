/**
 * A periodic task that keeps failing (the database or a service down for an hour) should say so
 * once, then now and then, and once more when it works again: a warning every second or every
 * period buries the rest of the log.
 */
import type { Logger } from './logger.js';

export class FailureStreak {
  private failures = 0;

  constructor(
    private readonly log: Logger,
    /** what failed, as the log says it: "writing traffic counts" */
    private readonly what: string,
    /** after the first, every how many failures in a row are logged */
    private readonly every = 20,
  ) {}

  failed(err: Error, fields: Record<string, unknown> = {}): void {
    this.failures++;
    if (this.failures === 1 || this.failures % this.every === 0) this.log.warn({ ...fields, err: err.message, failures: this.failures }, `${this.what} failed; trying again`);
  }

  succeeded(): void {
    if (this.failures > 0) this.log.info({ failures: this.failures }, `${this.what} works again`);
    this.failures = 0;
  }

  get count(): number {
    return this.failures;
  }
}

/** One streak per key (a target, a source), made when its key first fails or succeeds. */
export class FailureStreaks {
  private readonly byKey = new Map<string, FailureStreak>();

  constructor(
    private readonly log: Logger,
    private readonly what: (key: string) => string,
    private readonly every = 20,
  ) {}

  of(key: string): FailureStreak {
    let s = this.byKey.get(key);
    if (!s) this.byKey.set(key, (s = new FailureStreak(this.log, this.what(key), this.every)));
    return s;
  }
}
