/**
 * Only one adapter instance dispatches at a time: a PostgreSQL session-level advisory lock, held
 * by a connection of its own and checked at every poll. A session lock lives exactly as long as
 * its connection, so a working connection means the lock is still ours, and a broken one means
 * another instance may have it now.
 */
import type pg from 'pg';
import { FailureStreak, type Logger } from '@ficus/contracts';

const LOCK_KEY = 0x6669_6375; // "ficu": the dispatcher's advisory lock

export class DispatcherLock {
  private client: pg.PoolClient | undefined;
  private held = false;
  private readonly unreachable: FailureStreak;

  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
  ) {
    // checked every poll (twice a second): a store outage is said now and then, not each time
    this.unreachable = new FailureStreak(log, 'reaching the message store for the dispatcher lock (deliveries wait)', 20);
  }

  get holding(): boolean {
    return this.held;
  }

  /** Takes the lock, or checks that it is still ours; false when another instance has it or the store is away. */
  async hold(): Promise<boolean> {
    const before = this.held;
    this.held = await this.take();
    if (this.held && !before) this.log.info('dispatching HL7 deliveries (this instance holds the dispatcher lock)');
    return this.held;
  }

  private async take(): Promise<boolean> {
    try {
      if (this.held && this.client) {
        await this.client.query('SELECT 1');
        this.unreachable.succeeded();
        return true;
      }
      if (!this.client) {
        const client = await this.pool.connect();
        // a checked-out client whose connection dies emits 'error': without a listener, a crash
        client.on('error', (err) => this.drop(err.message));
        this.client = client;
      }
      const { rows } = await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LOCK_KEY]);
      this.unreachable.succeeded();
      return rows[0]!.ok;
    } catch (e) {
      this.drop((e as Error).message);
      this.unreachable.failed(e as Error);
      return false;
    }
  }

  drop(why: string): void {
    if (this.held) this.log.warn({ why }, 'dispatcher lock lost: deliveries stop here until it is held again');
    this.held = false;
    this.client?.release(true);
    this.client = undefined;
  }

  release(): void {
    this.client?.release(true);
    this.client = undefined;
    this.held = false;
  }
}
