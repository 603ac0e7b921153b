/**
 * A consumer whose database is not there now (down, restarting, refusing connections, a lock
 * held past its timeout): its jobs wait in place, their partitions holding, without using up
 * their tries (NotYetError), for as long as it takes; a dead letter would not mend an outage,
 * and a change applied after a later one would be wrong. This keeps what an operator needs to
 * see: one log line when the waiting starts, a reminder every few minutes, one when it ends
 * (never one per try), and the state (since when, the last error) for status endpoints.
 * A deadlock or serialization failure (isUnavailable counts them, so they are retried the same
 * way) is no outage: the database answered and aborted this transaction for another session's.
 * It is logged as that conflict, once per try, and nothing is said to wait.
 */
import type { Logger } from 'pino';
import { isSessionConflict, reasonWithoutValues, sqlState } from '../postgres/database-errors.js';
import { NotYetError } from './partitioned-consumer.js';

export interface WaitingState {
  /** when the first job began waiting */
  since: string;
  /** the last error, without row values (connection and lock errors carry none) */
  lastError: string;
  /** the partitions whose jobs wait */
  partitions: number[];
  /** tries since the waiting began */
  tries: number;
}

export interface NotNowWatchOptions {
  log: Logger;
  /** what is waited for, for the log lines (`the legacy database`) */
  what: string;
  /** log fields naming the consumer (`{ service }`, `{ topic }`) */
  fields: Record<string, unknown>;
  /** a reminder while the waiting lasts (default 5 minutes) */
  remindEveryMs?: number;
  /** told at each change of state (a gauge) */
  changed?: (state: WaitingState | null) => void;
}

export class NotNowWatch {
  private readonly partitions = new Set<number>();
  private since: number | undefined;
  private lastError = '';
  private tries = 0;
  private lastLogged = 0;

  constructor(private readonly o: NotNowWatchOptions) {}

  /** A partition's job met a database that is not there: answers the error for its handler to throw. */
  notNow(partition: number, e: unknown): NotYetError {
    if (isSessionConflict(e)) return this.conflicted(partition, e);
    const now = Date.now();
    const message = String((e as Error | null)?.message ?? e).slice(0, 300);
    const code = sqlState(e) ?? (e as { code?: unknown } | null)?.code;
    this.tries++;
    this.lastError = code ? `${message} (${String(code)})` : message;
    this.partitions.add(partition);
    if (this.since === undefined) {
      this.since = now;
      this.lastLogged = now;
      this.o.log.warn({ ...this.o.fields, err: this.lastError, partition }, `${this.o.what} is not available: jobs wait in place, their partitions hold, nothing is dead-lettered`);
      this.o.changed?.(this.status());
    } else if (now - this.lastLogged >= (this.o.remindEveryMs ?? 300_000)) {
      this.lastLogged = now;
      this.o.log.warn({ ...this.o.fields, err: this.lastError, waitingMs: now - this.since, tries: this.tries, partitions: [...this.partitions] }, `${this.o.what} is still not available; jobs still wait`);
    }
    return new NotYetError(`${this.o.what} is not available now: ${this.lastError}`);
  }

  /** The database aborted the job's transaction for another session's: tried again in place, said as what it is. */
  private conflicted(partition: number, e: unknown): NotYetError {
    this.answered(partition);
    const err = reasonWithoutValues(e).slice(0, 300);
    const said = `a job conflicted with another session of ${this.o.what} (deadlock/serialization): retried`;
    this.o.log.warn({ ...this.o.fields, err, partition }, said);
    return new NotYetError(`${said}: ${err}`);
  }

  /** A partition's job was answered by the database (applied, or refused for its data). */
  answered(partition: number): void {
    if (!this.partitions.delete(partition) || this.partitions.size > 0 || this.since === undefined) return;
    this.o.log.info({ ...this.o.fields, waitedMs: Date.now() - this.since, tries: this.tries }, `${this.o.what} is available again; the waiting jobs go on`);
    this.since = undefined;
    this.tries = 0;
    this.o.changed?.(null);
  }

  status(): WaitingState | null {
    if (this.since === undefined) return null;
    return { since: new Date(this.since).toISOString(), lastError: this.lastError, partitions: [...this.partitions].sort((a, b) => a - b), tries: this.tries };
  }
}
