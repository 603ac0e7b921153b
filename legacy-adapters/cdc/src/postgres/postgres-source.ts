/**
 * The PostgreSQL source: logical replication (pgoutput) of the mapped tables of the legacy
 * database. On start: checks, a publication for the mapped tables, a replication slot and,
 * the first time, a snapshot of the tables consistent with the slot's start (the slot's
 * exported snapshot, read while the replication connection waits), published as `snapshot`
 * events; then streaming. The slot is acknowledged only up to transactions whose events are
 * all enqueued; keepalive requests are answered with that position. When too many events wait
 * for the queues, the replication socket is no longer read.
 *
 * Errors that a retry can mend (a connection lost, the slot held by a reader that is still
 * stopping) reconnect with backoff. Errors that need a person (a schema change the mapping
 * refuses, a TRUNCATE, a missing slot, a slot the server invalidated) stop the source: state
 * "error", readiness false.
 *
 * This module decides when a slot or snapshot is needed, streams and acknowledges; the SQL of
 * the publication, the slot and the snapshot is in publication.ts, replication-slot.ts and
 * table-snapshot.ts.
 */
import pg from 'pg';
import type { Logger } from '@ficus/contracts';
import type { CdcMapping, TopicMapping } from '../mapping/mapping-file.js';
import { SchemaChangeError } from '../mapping/table-plan.js';
import type { Publisher } from '../publish/publisher.js';
import type { StateStore } from '../state/state-store.js';
import { ChangeDecoder, FatalSourceError } from './change-decoder.js';
import { decodePgOutput, formatLsn, parseLsn, pgPosition } from './pgoutput.js';
import { checkLogicalReplication, checkMapping, type CapturedTable } from './preflight.js';
import { ensurePublication } from './publication.js';
import { snapshotAddedTables } from './added-tables.js';
import { checkPublication, PUBLICATION_CHECK_MS } from './publication-watch.js';
import { ReconnectBackoff } from './reconnect-backoff.js';
import { ReplicationConnection } from './replication-connection.js';
import { createSlot, dropSlot, heldWalBytes, invalidatedSlotError, readSlot, slotInvalidation, type SlotRow } from './replication-slot.js';
import { snapshotTables } from './table-snapshot.js';
import { SESSION_OPTIONS } from './values.js';
import { RateWindow, type SourceHooks, type SourceState, type SourceStatus } from '../source.js';

/** how far a commit's time may run ahead of its commit record reaching the WAL sent (see caughtUpAtMs) */
export const COMMIT_FLUSH_MARGIN_MS = 250;

export interface PostgresSourceOptions {
  databaseUrl: string;
  mapping: CdcMapping;
  state: StateStore;
  publisher: Publisher;
  slot: string;
  publication: string;
  snapshot: boolean;
  /** drop the slot and take a new snapshot at start */
  resnapshot: boolean;
  echo: 'tag' | 'drop';
  statusIntervalMs: number;
  snapshotFetchRows: number;
  log: Logger;
  hooks: SourceHooks;
}

export class PostgresSource {
  readonly name: string;
  readonly kind = 'postgres' as const;
  private state: SourceState = 'stopped';
  private error: string | undefined;
  private readonly pool: pg.Pool;
  private tables: CapturedTable[] = [];
  private database = '';
  private conn: ReplicationConnection | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  private received = 0n;
  private acked = 0n;
  private paused = false;
  private lastPosition: string | null = null;
  private lastCommitAtMs: number | null = null;
  /** when the server (its clock) last said it had sent everything, read while no transaction was half read (see caughtUpAtMs) */
  private caughtUpAt: number | null = null;
  /** commit times of transactions read and not yet acknowledged, oldest first */
  private readonly unacked: { ack: bigint; commitTimeMs: number }[] = [];
  private readonly rate = new RateWindow();
  private resnapshot: boolean;
  private wakeRetry: (() => void) | undefined;
  private backoff: ReconnectBackoff | undefined;

  constructor(private readonly o: PostgresSourceOptions) {
    this.name = o.mapping.source;
    this.resnapshot = o.resnapshot;
    this.pool = new pg.Pool({ connectionString: o.databaseUrl, max: 3, connectionTimeoutMillis: 5_000, options: SESSION_OPTIONS } as pg.PoolConfig);
    this.pool.on('error', () => undefined);
  }

  /** Checks the server and the mapping (throws, with the reason, when either is wrong), then runs in the background. */
  async start(): Promise<void> {
    await checkLogicalReplication(this.pool);
    this.tables = await checkMapping(this.pool, this.o.mapping);
    this.database = (await this.pool.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
    await ensurePublication(this.pool, this.o.publication, this.tables, this.o.log);
    this.running = true;
    this.state = 'starting';
    this.loop = this.run();
  }

  /** what checkPublication needs */
  private get watched() {
    return { pool: this.pool, publication: this.o.publication, tables: this.tables, state: this.o.state, source: this.name };
  }

  /** Called by the publisher after each flush (see CdcService). */
  enqueued(ack: bigint | undefined, changes: number): void {
    this.rate.add(changes);
    if (ack === undefined || ack <= this.acked) return;
    this.acked = ack;
    while (this.unacked.length > 0 && this.unacked[0]!.ack <= ack) this.unacked.shift();
    this.conn?.sendStatus(this.received > ack ? this.received : ack, ack);
  }

  /**
   * Every change committed before this time (the server's clock, as commit times are) has been
   * handed to the publisher: the sending time of the last keepalive read between two
   * transactions while reading was not paused. The server sends one each status interval (the
   * status updates ask for it) behind what it has sent, so a stopped, paused or stuck reader
   * stops moving it. A server whose walsender is itself behind its WAL (a backlog it is still
   * decoding) vouches for what it has sent: the CDC's lag metric shows such a backlog.
   *
   * Less COMMIT_FLUSH_MARGIN_MS: a transaction takes its commit time before its commit record is
   * in the WAL the walsender sends, so a keepalive written in between vouches for a time after a
   * commit it has not sent. Under load that gap was 73 ms here (a heartbeat queued ahead of the
   * change it vouched for: legacy-adapters/cdc/test/heartbeats.test.ts); the margin keeps the
   * heartbeats behind such commits, at the cost of as much apparent lag.
   */
  caughtUpAtMs(): number | null {
    return this.state === 'streaming' && this.caughtUpAt !== null ? this.caughtUpAt - COMMIT_FLUSH_MARGIN_MS : null;
  }

  status(): SourceStatus {
    const oldest = this.unacked[0];
    return {
      name: this.name,
      kind: this.kind,
      state: this.state === 'starting' ? 'stopped' : this.state,
      lagBytes: null,
      lagMs: this.state === 'streaming' ? (oldest ? Math.max(0, Date.now() - oldest.commitTimeMs) : 0) : null,
      lastPosition: this.lastPosition,
      lastCommitAt: this.lastCommitAtMs === null ? null : new Date(this.lastCommitAtMs).toISOString(),
      changesPerSecond: this.rate.perSecond(),
      ...(this.error ? { error: this.error } : {}),
      slot: this.o.slot,
      publication: this.o.publication,
      ackedLsn: this.acked > 0n ? formatLsn(this.acked) : null,
      receivedLsn: this.received > 0n ? formatLsn(this.received) : null,
      paused: this.paused,
      heldEvents: this.o.publisher.held,
      caughtUpAt: this.caughtUpAt === null ? null : new Date(this.caughtUpAt).toISOString(),
    };
  }

  /** Bytes of WAL the slot holds beyond what is acknowledged (null when unknown). */
  slotLagBytes(): Promise<number | null> {
    return heldWalBytes(this.pool, this.o.slot);
  }

  private async run(): Promise<void> {
    const backoff = new ReconnectBackoff();
    this.backoff = backoff;
    while (this.running) {
      let pause = 0;
      try {
        await this.runOnce(); // ends without an error only when closing
        pause = 250;
      } catch (e) {
        if (!this.running) break;
        const err = e as Error;
        this.error = err.message;
        if (err instanceof FatalSourceError || err instanceof SchemaChangeError) {
          this.state = 'error';
          this.o.hooks.fatal(err);
          this.o.log.error({ source: this.name, err: err.message }, 'CDC source stopped: this needs a person');
          await this.conn?.close();
          this.running = false;
          return;
        }
        pause = backoff.failed();
        this.state = 'error';
        this.o.log.warn({ source: this.name, err: err.message, failures: backoff.count }, 'CDC source interrupted; reconnecting');
      } finally {
        await this.conn?.close();
        this.conn = undefined;
        if (this.paused) this.paused = false;
      }
      if (!this.running) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pause);
        this.wakeRetry = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  private async runOnce(): Promise<void> {
    const conn = new ReplicationConnection(this.o.databaseUrl);
    this.conn = conn;
    let failed: (e: Error) => void = () => undefined;
    const broken = new Promise<never>((_, reject) => (failed = reject));
    broken.catch(() => undefined);
    await conn.connect((e) => failed(e));

    const state = await this.o.state.get(this.name, 'postgres');
    const slot = await this.slotRow();
    if (slot?.active) throw new Error(`replication slot ${this.o.slot} is in use by process ${slot.active_pid} (another reader, or one still stopping)`);
    if (slot && (this.resnapshot || state.snapshotState === 'pending')) {
      this.o.log.warn({ source: this.name, slot: this.o.slot, reason: this.resnapshot ? 'CDC_RESNAPSHOT' : 'the last snapshot did not finish' }, 'dropping the slot to take a new snapshot');
      await dropSlot(this.pool, this.o.slot);
    } else if (!slot && state.snapshotState !== 'pending' && !this.resnapshot) {
      throw new FatalSourceError(
        `replication slot ${this.o.slot} is gone (dropped, or the server was replaced) although this source read from it: changes made since may be lost. ` +
          'Restart with CDC_RESNAPSHOT=true to take a new snapshot',
      );
    } else if (slot) {
      const why = slotInvalidation(slot);
      if (why) throw invalidatedSlotError(this.o.slot, why);
    }
    const fresh = !slot || this.resnapshot || state.snapshotState === 'pending';
    // what the publication published when CDC last read through it (changes it did not publish are lost)
    const published = await checkPublication(this.watched, state.publicationSeen, fresh);
    if (fresh) await this.createSlotAndSnapshot(conn);
    else if (this.o.snapshot) {
      const { databaseUrl, slot, publisher, hooks, log, snapshotFetchRows: fetchRows } = this.o;
      await snapshotAddedTables({ databaseUrl, slot, publisher, hooks, log, fetchRows, tables: this.tables, seen: state.publicationSeen, source: this.name, database: this.database });
    }
    this.resnapshot = false;
    await this.o.state.savePublication(this.name, published);

    // streaming, from where the slot stands (its confirmed position)
    const decoder = new ChangeDecoder({
      source: this.name,
      database: this.database,
      tables: new Map(this.tables.map((t) => [`${t.schema}.${t.name}`.toLowerCase(), t.mapping] as [string, TopicMapping])),
      echo: this.o.echo,
      emit: (e) => {
        this.o.hooks.read(e);
        this.o.publisher.add(e);
        if (this.o.publisher.pressure && !this.paused) this.pauseReading(conn);
      },
      committed: (c) => {
        this.lastCommitAtMs = c.commitTimeMs;
        if (c.lastPosition) this.lastPosition = c.lastPosition;
        this.unacked.push({ ack: c.endLsn, commitTimeMs: c.commitTimeMs });
        if (c.echo) this.o.hooks.echo(c.changes);
        this.o.publisher.commit({ ack: c.endLsn, commitTimeMs: c.commitTimeMs, position: c.lastPosition });
      },
      unexpectedColumns: (plan) => this.o.hooks.unexpectedColumns(plan),
    });
    const idle = () => !decoder.inTransaction && this.o.publisher.held === 0 && this.unacked.length === 0;
    const timer = setInterval(() => conn.sendStatus(this.received > this.acked ? this.received : this.acked, this.acked, true), this.o.statusIntervalMs);
    const watch = setInterval(() => {
      checkPublication(this.watched, published, false).catch((e: unknown) => {
        if (!(e instanceof FatalSourceError)) return; // a failed look (the database away) is the stream's to notice
        failed(e);
        conn.pause();
      });
    }, PUBLICATION_CHECK_MS);
    this.state = 'streaming';
    this.backoff?.streaming();
    this.error = undefined;
    this.o.log.info({ source: this.name, slot: this.o.slot, from: formatLsn(this.acked) }, 'streaming changes');
    try {
      await Promise.race([
        conn.stream(this.o.slot, 0n, this.o.publication, {
          data: (_walStart, walEnd, payload) => {
            if (walEnd > this.received) this.received = walEnd;
            try {
              decoder.handle(decodePgOutput(payload));
            } catch (e) {
              failed(e as Error);
              conn.pause();
            }
          },
          keepalive: (walEnd, replyRequested, sentAtMs) => {
            if (walEnd > this.received) this.received = walEnd;
            // the server's sending time, not ours: a keepalive read late (this process stopped
            // a while) vouches only for what the server had sent when it wrote it
            if (!decoder.inTransaction && !this.paused) this.caughtUpAt = sentAtMs;
            // nothing in hand: everything the server sent before this point is enqueued, so the slot may move on
            if (idle() && walEnd > this.acked) this.acked = walEnd;
            if (replyRequested || idle()) conn.sendStatus(this.received, this.acked);
          },
        }),
        broken,
      ]);
      if (this.running) throw new Error('the server ended the replication stream');
    } catch (e) {
      // invalidated between the check above and START_REPLICATION: the server refuses with 55000,
      // which other states share, so the slot's row decides
      if ((e as { code?: unknown }).code === '55000') {
        const now = await readSlot(this.pool, this.o.slot, this.database).catch(() => undefined);
        const why = now && slotInvalidation(now);
        if (why) throw invalidatedSlotError(this.o.slot, why);
      }
      throw e;
    } finally {
      clearInterval(timer);
      clearInterval(watch);
    }
  }

  private pauseReading(conn: ReplicationConnection): void {
    this.paused = true;
    conn.pause();
    this.o.hooks.backPressure();
    void this.o.publisher.belowLowWater().then(() => {
      if (this.conn === conn && this.paused) {
        this.paused = false;
        conn.resume();
      }
    });
  }

  /** The slot's row; what it has confirmed counts as acknowledged. */
  private async slotRow(): Promise<SlotRow | undefined> {
    const r = await readSlot(this.pool, this.o.slot, this.database);
    if (r?.confirmed_flush_lsn) {
      const confirmed = parseLsn(r.confirmed_flush_lsn);
      if (confirmed > this.acked) this.acked = confirmed;
    }
    return r;
  }

  /** Creates the slot; with the snapshot on, reads the tables as of the slot's start and enqueues them. */
  private async createSlotAndSnapshot(conn: ReplicationConnection): Promise<void> {
    const created = await createSlot(conn, this.o.slot, this.o.snapshot);
    const start = parseLsn(created.consistent_point);
    this.acked = start;
    const position = pgPosition(start, 0);
    await this.o.state.snapshotStarted(this.name, this.o.slot, position);
    if (!this.o.snapshot) {
      await this.o.state.snapshotFinished(this.name, 'skipped', 0, null);
      this.o.log.info({ source: this.name, slot: this.o.slot, at: created.consistent_point }, 'slot created; no snapshot (CDC_SNAPSHOT=false)');
      return;
    }
    this.state = 'snapshot';
    this.o.log.info({ source: this.name, slot: this.o.slot, at: created.consistent_point, tables: this.tables.length }, 'slot created; taking the snapshot');
    const rows = await snapshotTables({
      databaseUrl: this.o.databaseUrl,
      snapshotName: created.snapshot_name!,
      tables: this.tables,
      position,
      fetchRows: this.o.snapshotFetchRows,
      source: this.name,
      database: this.database,
      publisher: this.o.publisher,
      hooks: this.o.hooks,
    });
    await this.o.publisher.drain();
    await this.o.state.snapshotFinished(this.name, 'done', rows, null);
    this.lastPosition = position;
    this.o.log.info({ source: this.name, rows }, 'snapshot enqueued');
  }

  async close(): Promise<void> {
    this.running = false;
    this.wakeRetry?.();
    // what is in hand gets enqueued and acknowledged before the connection goes
    await Promise.race([this.o.publisher.drain(), new Promise((r) => setTimeout(r, 5_000))]);
    await this.conn?.close();
    await this.loop?.catch(() => undefined);
    this.state = 'stopped';
    await this.pool.end();
  }
}
