/**
 * The write-back path's first half, for the new services: an outbox table in the service's own
 * database (migrations/outbox), a helper that writes one change event there inside the
 * service's transaction, and the relay that publishes unpublished rows, in id order, as change
 * batches on `writeback.<service>.p<n>` (partitioned by key, like CDC) and marks them published.
 *
 * At-least-once and crash-safe: rows are marked only after their jobs are in Redis, in the same
 * transaction that read them; a crash in between publishes them again, with the same positions
 * (the ids), which the legacy writer skips. One relay at a time per outbox (an advisory lock),
 * so that two instances never publish a key's changes out of order.
 */
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Logger } from 'pino';
import { FailureStreak } from '../failure-streak.js';
import { CHANGE_EVENT_SCHEMA_VERSION, keyText, type ChangeBatch, type ChangeEvent } from '../events/change-event.js';
import { partitionOf, partitionQueueName } from '../events/partition.js';
import { runMigrations } from '../postgres/migrate.js';
import { withTransaction } from '../postgres/transaction.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/outbox', import.meta.url));

const PURGE_EVERY_MS = 10 * 60_000;

export const writebackQueuePrefix = (service: string) => `writeback.${service}`;

/** the origin of the legacy database's changes that the legacy writer made (the write-back's echo) */
export const WRITEBACK_ORIGIN = 'ficus-writeback';

/** Creates or updates the outbox table in a service's database (node-pg-migrate). */
export function migrateOutbox(databaseUrl: string, log?: Logger): Promise<string[]> {
  return runMigrations({ databaseUrl, dir: MIGRATIONS_DIR, table: 'ficus_outbox_pgmigrations', log, createDatabase: false });
}

export interface OutboxEvent {
  /** a topic of the mapping (`patients`), with its field names */
  topic: string;
  op: 'create' | 'update' | 'delete';
  key: Record<string, unknown>;
  before?: Record<string, unknown> | null;
  /** the whole row after the change; null on delete */
  after: Record<string, unknown> | null;
}

/** Writes one outbox event with the caller's client, inside the caller's transaction. Answers its id. */
export async function writeOutboxEvent(client: pg.ClientBase, e: OutboxEvent): Promise<string> {
  if ((e.op === 'delete') !== (e.after === null)) throw new Error(`an outbox ${e.op} event ${e.op === 'delete' ? 'has no' : 'needs an'} "after" row`);
  const { rows } = await client.query<{ id: string }>(
    'INSERT INTO ficus_outbox (topic, op, key, before, after) VALUES ($1, $2, $3, $4, $5) RETURNING id',
    [e.topic, e.op, JSON.stringify(e.key), e.before ? JSON.stringify(e.before) : null, e.after ? JSON.stringify(e.after) : null],
  );
  return rows[0]!.id;
}

/** An outbox position: the row id as 20 decimal digits, so that text order is id order. */
export const outboxPosition = (id: string | number | bigint) => String(id).padStart(20, '0');

export interface OutboxRelayOptions {
  pool: pg.Pool;
  connection: Redis;
  /** the service's name: queues writeback.<service>.p<n>, and source.name of the events */
  service: string;
  /** must be the legacy writer's partition count */
  partitions: number;
  /** rows per round (default 1000) */
  batchSize?: number;
  /** how often to look for new rows when the last round found none (default 200 ms) */
  pollMs?: number;
  log: Logger;
  published?: (events: ChangeEvent[]) => void;
  /** published rows older than this are deleted (default 7 days; 0 keeps them) */
  keepPublishedMs?: number;
}

interface OutboxRow {
  id: string;
  topic: string;
  op: 'create' | 'update' | 'delete';
  key: Record<string, unknown>;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  created_at: Date;
}

export class OutboxRelay {
  private readonly queues = new Map<string, Queue<ChangeBatch>>();
  private running = false;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private database = '';
  private lastPurge = 0;

  constructor(private readonly o: OutboxRelayOptions) {}

  start(): this {
    this.running = true;
    this.loop = this.run();
    return this;
  }

  /** Look now rather than at the next poll (call after a commit that wrote outbox rows). */
  nudge(): void {
    this.wakeUp?.();
  }

  /** One round: publishes up to batchSize rows; answers how many. Exposed for tests and scripts. */
  async publishOnce(): Promise<number> {
    const published = await withTransaction(this.o.pool, async (client) => {
      // one relay at a time per outbox: a second instance waits here, and then reads what is left
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended('ficus_outbox_relay', 0))");
      if (!this.database) this.database = (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db;
      const { rows } = await client.query<OutboxRow>(
        'SELECT id, topic, op, key, before, after, created_at FROM ficus_outbox WHERE published_at IS NULL ORDER BY id LIMIT $1',
        [this.o.batchSize ?? 1_000],
      );
      if (rows.length === 0) return [];
      const batch = rows.map((r) => this.eventOf(r));
      const byQueue = new Map<string, ChangeEvent[]>();
      for (const e of batch) {
        const q = partitionQueueName(writebackQueuePrefix(this.o.service), partitionOf(keyText(e.key), this.o.partitions));
        let list = byQueue.get(q);
        if (!list) byQueue.set(q, (list = []));
        list.push(e);
      }
      await Promise.all([...byQueue].map(([q, list]) => this.queue(q).add('outbox', { schemaVersion: CHANGE_EVENT_SCHEMA_VERSION, events: list })));
      await client.query('UPDATE ficus_outbox SET published_at = clock_timestamp() WHERE id = ANY($1::bigint[])', [rows.map((r) => r.id)]);
      return batch;
    });
    if (published.length > 0) this.o.published?.(published);
    return published.length;
  }

  private eventOf(r: OutboxRow): ChangeEvent {
    return {
      schemaVersion: CHANGE_EVENT_SCHEMA_VERSION,
      topic: r.topic,
      op: r.op,
      key: r.key,
      before: r.before,
      after: r.after,
      source: {
        system: 'outbox',
        name: this.o.service,
        database: this.database,
        schema: null,
        table: 'ficus_outbox',
        position: outboxPosition(r.id),
        txId: null,
        commitTime: r.created_at.toISOString(),
        origin: null,
      },
    };
  }

  private queue(name: string): Queue<ChangeBatch> {
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue<ChangeBatch>(name, { connection: this.o.connection, defaultJobOptions: { removeOnComplete: { count: 1_000 }, removeOnFail: false } });
      q.on('error', () => undefined); // a failed publish is retried and logged by the relay; without a listener BullMQ prints each error raw
      this.queues.set(name, q);
    }
    return q;
  }

  private async run(): Promise<void> {
    const streak = new FailureStreak(this.o.log, 'outbox relay round', 20);
    while (this.running) {
      let published = 0;
      try {
        published = await this.publishOnce();
        streak.succeeded();
      } catch (e) {
        streak.failed(e as Error);
      }
      const failures = streak.count;
      if (published === 0 && this.running && Date.now() - this.lastPurge > PURGE_EVERY_MS) {
        this.lastPurge = Date.now();
        await this.purgePublished().catch((e: Error) => this.o.log.warn({ err: e.message }, 'outbox purge failed; trying again later'));
      }
      if (published === 0 && this.running) {
        const wait = failures > 0 ? Math.min(5_000, 200 * 2 ** Math.min(failures, 5)) : (this.o.pollMs ?? 200);
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, wait);
          this.wakeUp = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wakeUp = undefined;
      }
    }
  }

  /** Deletes published rows older than keepPublishedMs: the legacy has them; answers how many. */
  async purgePublished(): Promise<number> {
    const keep = this.o.keepPublishedMs ?? 7 * 24 * 3_600_000;
    if (keep <= 0) return 0;
    const { rowCount } = await this.o.pool.query("DELETE FROM ficus_outbox WHERE published_at < clock_timestamp() - make_interval(secs => $1)", [keep / 1000]);
    return rowCount ?? 0;
  }

  async close(): Promise<void> {
    this.running = false;
    this.wakeUp?.();
    await this.loop;
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}
