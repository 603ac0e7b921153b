/**
 * The consumer helper for services fed by change events (CDC of the legacy database): reads
 * the topic's partition queues (`cdc.<topic>.p<n>`) in order, and applies each job's events in
 * one transaction of the service's own database, idempotently by source position: for each
 * key only the last change of the job counts, and only when it is later than the last change
 * applied to that key (kept in `ficus_change_positions`). A redelivered job, or a change read
 * again after a crash, changes nothing.
 *
 * When the service's database refuses a row's data (a check, a value too long: no retry mends
 * it), the job is applied again key by key (key-by-key.ts): the other rows' changes are
 * applied and each refused key's changes become a dead letter of their own, naming the table,
 * position and key columns. When the database is not there (down, restarting, a lock not
 * granted), the job waits in place without using up its tries (not-now.ts).
 *
 * A re-snapshot's end (a marker on every partition) withdraws, through the same path as a
 * delete, the rows the snapshot did not bring (snapshot-ends.ts), when `withdrawals` is given.
 */
import { fileURLToPath } from 'node:url';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Logger } from 'pino';
import { CHANGE_EVENT_SCHEMA_VERSION, changeEventProblem, heartbeatTime, keyText, lastChangePerKey, netChangePerKey, snapshotEndOf, type ChangeBatch, type ChangeEvent, type SnapshotEnd } from '../events/change-event.js';
import { runMigrations } from '../postgres/migrate.js';
import { deleteInBatches } from '../postgres/periodic-purge.js';
import { withTransaction } from '../postgres/transaction.js';
import { isDataRefusal, isUnavailable } from '../postgres/database-errors.js';
import { applyKeyByKey, eventsOfKey, refusalPart, refusalReason } from './key-by-key.js';
import { NotNowWatch } from './not-now.js';
import { PartitionedConsumer, PermanentError, type RetryPolicy } from './partitioned-consumer.js';
import { decideAllowed, noteRefusedSnapshotRows, reachSnapshotEnd, type WithdrawalOptions } from './snapshot-ends.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/change-consumer', import.meta.url));

export const cdcQueuePrefix = (topic: string) => `cdc.${topic}`;

/** Creates or updates the consumer's table in a service's database (node-pg-migrate). */
export function migrateChangeConsumer(databaseUrl: string, log?: Logger): Promise<string[]> {
  return runMigrations({ databaseUrl, dir: MIGRATIONS_DIR, table: 'ficus_change_consumer_pgmigrations', log, createDatabase: false });
}

/**
 * One job's run (or one re-snapshot end's withdrawal), the same object to each of its callbacks:
 * what a callback looks at once per job can be kept by it (a WeakMap), so that the whole job
 * acts on one answer (who holds the record, say) even if it changes meanwhile.
 */
export interface ChangeJobRun {
  readonly partition?: number;
}

export interface ChangeConsumerOptions {
  connection: Redis;
  topic: string;
  partitions: number;
  pool: pg.Pool;
  /** applies the changes that are new for their keys, inside the consumer's transaction */
  apply: (changes: ChangeEvent[], client: pg.PoolClient, run: ChangeJobRun) => Promise<void>;
  /**
   * changes written by these origins are skipped (the service's own writes coming back); a
   * function is asked for each job (the service's regime can change while it runs), and may
   * look before it answers (the emergency override file as it is then)
   */
  ignoreOrigins?: readonly string[] | ((run: ChangeJobRun) => readonly string[] | Promise<readonly string[]>);
  /**
   * told of the skipped ones (the last of each key) in the same transaction, after `apply`: what
   * the legacy database made of the service's write (a trigger's stamp, say) can be taken from
   * them. Not claimed by position (a redelivery tells again), nor counted as applied.
   */
  echoes?: (changes: ChangeEvent[], client: pg.PoolClient, run: ChangeJobRun) => Promise<void>;
  retry?: Partial<RetryPolicy>;
  /** told after each job's commit: what was applied and skipped (metrics, lag) */
  applied?: (r: { topic: string; partition: number; applied: ChangeEvent[]; skipped: number }) => void;
  /**
   * how long the tombstones of deleted rows are kept (purgeTombstones); 0 or unset: for ever.
   * A dead letter is safe to replay for that long (less an hour for clocks): later, a change
   * to a row deleted since could bring it back.
   */
  tombstoneRetentionDays?: number;
  /**
   * the state of waiting for the service's database while it is not there (made here when not
   * given; give one to show it on a status endpoint)
   */
  unavailable?: NotNowWatch;
  /**
   * told when a partition reaches a heartbeat of the CDC reader (no events, nothing written):
   * every change committed at the source before `atMs` is applied on that partition
   */
  heartbeat?: (r: { topic: string; partition: number; atMs: number }) => void;
  /**
   * withdraw, once a re-snapshot's end has reached every partition, the rows of the topic the
   * snapshot did not bring (snapshot-ends.ts); unset: the ends are passed over like heartbeats
   */
  withdrawals?: WithdrawalOptions;
  log: Logger;
}

/** Why a job's data is not a change batch this consumer can apply, or undefined. */
export function changeBatchProblem(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return 'not an object';
  const b = data as Partial<ChangeBatch>;
  if (b.schemaVersion !== CHANGE_EVENT_SCHEMA_VERSION) return `schemaVersion ${String(b.schemaVersion)} is not ${CHANGE_EVENT_SCHEMA_VERSION}`;
  if (!Array.isArray(b.events)) return 'events is not a list';
  for (const [i, e] of b.events.entries()) {
    const problem = changeEventProblem(e);
    if (problem) return `events/${i}${problem}`;
  }
  return undefined;
}

/** What a listing shows of a change batch: counts, tables, key columns, positions and commit times, never a row's values or keys. */
export function changeBatchSummary(data: unknown): Record<string, unknown> {
  const problem = changeBatchProblem(data);
  if (problem) return { undecodable: problem.slice(0, 200) };
  const events = (data as ChangeBatch).events;
  const ops: Record<string, number> = {};
  for (const e of events) ops[e.op] = (ops[e.op] ?? 0) + 1;
  const keys = new Set(events.map((e) => keyText(e.key)));
  const commits = events.flatMap((e) => (e.source.commitTime ? [e.source.commitTime] : [])).sort();
  return {
    events: events.length,
    ops,
    tables: [...new Set(events.map((e) => `${e.source.name}:${e.source.table}`))],
    // how many rows and by which columns, never the key values: a letter of one refused row says where to look
    keys: keys.size,
    keyColumns: [...new Set(events.flatMap((e) => Object.keys(e.key)))].sort(),
    firstPosition: events[0]?.source.position ?? null,
    lastPosition: events.at(-1)?.source.position ?? null,
    firstCommitAt: commits[0] ?? null,
    lastCommitAt: commits.at(-1) ?? null,
  };
}

export function startChangeConsumer(o: ChangeConsumerOptions): Promise<PartitionedConsumer<ChangeBatch>> {
  const ignoredNow = typeof o.ignoreOrigins === 'function' ? o.ignoreOrigins : () => (o.ignoreOrigins as readonly string[] | undefined) ?? [];
  const watch = o.unavailable ?? new NotNowWatch({ log: o.log, what: "the service's database", fields: { topic: o.topic } });
  // the handler may run before start() answers (workers start one by one): it waits for the consumer to dead-letter a part
  let started!: (c: PartitionedConsumer<ChangeBatch>) => void;
  const consumer = new Promise<PartitionedConsumer<ChangeBatch>>((resolve) => (started = resolve));

  const handle = async (job: Job<ChangeBatch>, partition: number): Promise<void> => {
    const problem = changeBatchProblem(job.data);
    if (problem) throw new PermanentError(`not a change batch of version ${CHANGE_EVENT_SCHEMA_VERSION}: ${problem}`);
    const caughtUpTo = heartbeatTime(job.data);
    if (caughtUpTo !== undefined) {
      // the jobs before it on this partition are done: no transaction, no position, nothing stored
      o.heartbeat?.({ topic: o.topic, partition, atMs: caughtUpTo });
      return;
    }
    const end = snapshotEndOf(job.data);
    if (end) {
      if (o.withdrawals && end.topic === o.topic) await reachEnd(end, partition);
      return;
    }
    const ours = job.data.events.filter((e) => e.topic === o.topic);
    const run: ChangeJobRun = { partition };
    const ignored = new Set(await ignoredNow(run));
    const echo = (e: ChangeEvent) => e.source.origin !== null && ignored.has(e.source.origin);
    const latest = netChangePerKey(ours.filter((e) => !echo(e)));
    const echoes = o.echoes ? lastChangePerKey(ours.filter(echo)) : [];
    const finish = async (client: pg.PoolClient) => {
      if (echoes.length > 0) await o.echoes!(echoes, client, run);
    };
    try {
      const fresh = await withTransaction(o.pool, async (client) => {
        const claimed = await claimPositions(client, o.topic, latest);
        if (claimed.length > 0) await o.apply(claimed, client, run);
        await finish(client);
        return claimed;
      });
      watch.answered(partition);
      o.applied?.({ topic: o.topic, partition, applied: fresh, skipped: job.data.events.length - fresh.length });
    } catch (e) {
      if (isUnavailable(e)) throw watch.notNow(partition, e);
      watch.answered(partition);
      if (!isDataRefusal(e)) throw e;
      await applyAroundRefusals(job, partition, ours, latest, finish, run);
    }
  };

  /** the consumer's own path for the deletes of withdrawn rows: positions claimed at the snapshot's, then the topic's apply */
  const applyWithdrawals = async (deletes: ChangeEvent[], client: pg.PoolClient, run: ChangeJobRun = {}): Promise<ChangeEvent[]> => {
    const claimed = await claimPositions(client, o.topic, deletes);
    if (claimed.length > 0) await o.apply(claimed, client, run);
    return claimed;
  };

  const reachEnd = async (end: SnapshotEnd, partition: number) => {
    let withdrawn: ChangeEvent[] = [];
    const run: ChangeJobRun = { partition };
    try {
      await withTransaction(o.pool, async (client) => {
        withdrawn = [];
        await reachSnapshotEnd(client, end, partition, o.withdrawals!, async (deletes, c) => {
          const claimed = await applyWithdrawals(deletes, c, run);
          withdrawn.push(...claimed);
          return claimed;
        }, o.log);
      });
    } catch (e) {
      if (isUnavailable(e)) throw watch.notNow(partition, e);
      throw e;
    }
    watch.answered(partition);
    if (withdrawn.length > 0) o.applied?.({ topic: o.topic, partition, applied: withdrawn, skipped: 0 });
  };

  /** The database refused some key's data: the other keys are applied, each refused key's events become a dead letter. */
  const applyAroundRefusals = async (job: Job<ChangeBatch>, partition: number, ours: ChangeEvent[], latest: ChangeEvent[], finish: (client: pg.PoolClient) => Promise<void>, run: ChangeJobRun) => {
    let outcome: Awaited<ReturnType<typeof applyKeyByKey<ChangeEvent>>>;
    try {
      outcome = await withTransaction(o.pool, async (client) => {
        const r = await applyKeyByKey(client, latest, async (change) => {
          const claimed = await claimPositions(client, o.topic, [change]);
          if (claimed.length > 0) await o.apply(claimed, client, run);
          return claimed;
        });
        // a refused snapshot row is one the source has: no snapshot end may withdraw it
        if (o.withdrawals) for (const refusal of r.refusals) await noteRefusedSnapshotRows(client, eventsOfKey(ours, refusal));
        await finish(client);
        return r;
      });
    } catch (e) {
      if (isUnavailable(e)) throw watch.notNow(partition, e);
      throw e;
    }
    const c = await consumer;
    for (const refusal of outcome.refusals) {
      const events = eventsOfKey(ours, refusal);
      await c.deadLetterPart(job, refusalPart(refusal), { schemaVersion: CHANGE_EVENT_SCHEMA_VERSION, events }, new Error(refusalReason("the service's database", refusal, events)));
    }
    const refusedEvents = outcome.refusals.reduce((n, r) => n + eventsOfKey(ours, r).length, 0);
    o.applied?.({ topic: o.topic, partition, applied: outcome.applied, skipped: job.data.events.length - outcome.applied.length - refusedEvents });
  };

  return PartitionedConsumer.start<ChangeBatch>({
    connection: o.connection,
    prefix: cdcQueuePrefix(o.topic),
    partitions: o.partitions,
    retry: o.retry,
    log: o.log,
    replaySafeForMs: o.tombstoneRetentionDays ? o.tombstoneRetentionDays * 86_400_000 - 3_600_000 : undefined,
    handle,
    // a snapshot job left unapplied holds rows the source has: no snapshot end may withdraw them
    // (a failure to note them keeps the job, its partition and so the end waiting)
    deadLettering: o.withdrawals
      ? async (job) => {
          const events = snapshotEventsIn(job.data, o.topic);
          if (events.length > 0) await withTransaction(o.pool, (client) => noteRefusedSnapshotRows(client, events));
        }
      : undefined,
  }).then(async (c) => {
    started(c);
    if (o.withdrawals?.allowed.length) {
      // snapshots held by the bound and allowed since (SERVICE_SNAPSHOT_WITHDRAW_ALLOW): their ends came before this start
      await decideAllowed(o.pool, o.topic, o.withdrawals, applyWithdrawals, o.log, (work) => withTransaction(o.pool, work)).catch((e: unknown) =>
        o.log.error({ topic: o.topic, err: (e as Error).message }, 'could not withdraw the rows of an allowed re-snapshot; they are tried again at the next start'),
      );
    }
    return c;
  });
}

/**
 * The snapshot events of `topic` in a job's data, whether or not the whole is a batch this
 * consumer takes: a batch refused for one odd event still carries rows the source has, and each
 * needs only its key and source to be noted.
 */
function snapshotEventsIn(data: unknown, topic: string): ChangeEvent[] {
  const events = (data as { events?: unknown } | null)?.events;
  if (!Array.isArray(events)) return [];
  return events.filter((e): e is ChangeEvent => {
    const c = e as Partial<ChangeEvent> | null;
    const source = c?.source as Partial<ChangeEvent['source']> | undefined;
    return (
      c?.op === 'snapshot' && c.topic === topic && typeof c.key === 'object' && c.key !== null &&
      typeof source?.name === 'string' && source.name !== '' && typeof source.position === 'string' && source.position !== ''
    );
  });
}

/**
 * Deletes the positions of rows deleted more than `days` ago, `batch` at a time; answers how
 * many. A tombstone keeps a late, older change of a deleted row from bringing it back; changes
 * come in order per key, so only a redelivery (minutes) or a dead letter replayed by hand can
 * be late: keep tombstones longer than that. A key written again meanwhile is not touched
 * (the delete checks the row again under its lock).
 */
export async function purgeTombstones(pool: pg.Pool, days: number, batch = 1_000): Promise<number> {
  return deleteInBatches(
    async (n) =>
      (
        await pool.query(
          `DELETE FROM ficus_change_positions p
            WHERE (p.topic, p.key) IN (SELECT topic, key FROM ficus_change_positions
                                        WHERE deleted AND applied_at < clock_timestamp() - make_interval(days => $1) LIMIT $2)
              AND p.deleted AND p.applied_at < clock_timestamp() - make_interval(days => $1)`,
          [days, n],
        )
      ).rowCount ?? 0,
    batch,
  );
}

/**
 * Records the changes' positions where they are later than what was applied, and answers the
 * changes that were (those to apply), in their order. One statement for the whole job.
 */
async function claimPositions(client: pg.PoolClient, topic: string, changes: ChangeEvent[]): Promise<ChangeEvent[]> {
  if (changes.length === 0) return [];
  const keys = changes.map((c) => keyText(c.key));
  const { rows } = await client.query<{ key: string }>(
    `INSERT INTO ficus_change_positions AS p (topic, key, source, position, deleted)
     SELECT $1, k, s, pos, d FROM unnest($2::text[], $3::text[], $4::text[], $5::boolean[]) AS c(k, s, pos, d)
     ON CONFLICT (topic, key) DO UPDATE
        SET source = excluded.source, position = excluded.position, deleted = excluded.deleted, applied_at = clock_timestamp()
      WHERE (length(p.position), p.position) < (length(excluded.position), excluded.position)
     RETURNING key`,
    [topic, keys, changes.map((c) => c.source.name), changes.map((c) => c.source.position), changes.map((c) => c.op === 'delete')],
  );
  const claimed = new Set(rows.map((r) => r.key));
  return changes.filter((c, i) => claimed.has(keys[i]!));
}
