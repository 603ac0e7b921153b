/**
 * The CDC topics a service consumes, each through the one consumer helper of
 * `@ficus/contracts/queues` (startChangeConsumer: partitions in order, idempotent by source
 * position, dead letters). Changes written back to the legacy database by Ficus itself come
 * back through CDC with origin `ficus-writeback` and are skipped while the service holds the
 * record (a feed may take what the legacy made of them: `echoes`); while the legacy holds it
 * they are applied like any legacy change. Each topic's `apply` gets
 * the changes new for their keys, in the consumer's transaction, and answers how many it
 * applied and how many it recorded as conflicts.
 */
import type { ChangeEvent, Logger } from '@ficus/contracts';
import { startChangeConsumer, type ChangeJobRun, type PartitionedConsumer, type RetryPolicy } from '@ficus/contracts/queues';
import type { ChangeBatch } from '@ficus/contracts';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { SystemOfRecord } from '../runtime/service-env.js';
import type { SystemOfRecordSource } from '../runtime/system-of-record.js';
import type { ServiceMetrics } from '../runtime/service-metrics.js';
import type { FeedFreshness } from './feed-freshness.js';
import { pendingLocal, type PendingLocal } from './pending-local.js';

/** changes Ficus wrote to the legacy database itself (write-back): never applied again */
export const WRITEBACK_ORIGIN = 'ficus-writeback';

export interface ApplyContext {
  tx: pg.PoolClient;
  systemOfRecord: SystemOfRecord;
  /** looks at the rule store again now: for a decision that must agree with the legacy writer's, which reads the store as it writes */
  recheck?: () => Promise<SystemOfRecord>;
}

export interface FeedReport {
  /** changes not applied because a local change is newer (recorded in ficus_change_conflicts) */
  conflicts: number;
}

export interface ChangeFeed {
  topic: string;
  apply(changes: ChangeEvent[], ctx: ApplyContext): Promise<FeedReport>;
  /** the service's own write-backs as the legacy database holds them (see startChangeConsumer's `echoes`) */
  echoes?(changes: ChangeEvent[], ctx: ApplyContext): Promise<void>;
  /** the keys among these with a change of the service's own not yet written back (pending-local.ts); unset: the outbox only */
  pendingLocal?: PendingLocal;
}

/** what a re-snapshot may withdraw (SERVICE_SNAPSHOT_WITHDRAW_*; contracts' snapshot-ends.ts) */
export interface SnapshotWithdrawals {
  maxPercent: number;
  /** `<topic>@<position>` of snapshots allowed past the bound once */
  allowed: readonly string[];
}

export interface ChangeFeedsOptions {
  connection: Redis;
  partitions: number;
  pool: pg.Pool;
  feeds: ChangeFeed[];
  systemOfRecord: SystemOfRecordSource;
  metrics: ServiceMetrics;
  log: Logger;
  retry?: Partial<RetryPolicy>;
  /** SERVICE_DEDUP_RETENTION_DAYS: how long tombstones last, and so how long a dead letter is safe to replay */
  tombstoneRetentionDays: number;
  /** told of the CDC reader's heartbeats as each partition reaches them */
  freshness?: FeedFreshness;
  /** withdraw what a re-snapshot did not bring; unset: its ends are passed over */
  withdrawals?: SnapshotWithdrawals;
}

export async function startChangeFeeds(o: ChangeFeedsOptions): Promise<PartitionedConsumer<ChangeBatch>[]> {
  const consumers: PartitionedConsumer<ChangeBatch>[] = [];
  // who holds the record, looked at once per job (the emergency file as it is then, a stat):
  // read again for its echoes or its apply, a file that changed meanwhile gave the job two
  // regimes (a write-back let through as the legacy's change, then merged as the service's)
  const regimes = new WeakMap<ChangeJobRun, Promise<SystemOfRecord>>();
  const regimeOf = (run: ChangeJobRun) => {
    let regime = regimes.get(run);
    if (!regime) regimes.set(run, (regime = o.systemOfRecord.fresh()));
    return regime;
  };
  try {
    for (const feed of o.feeds) {
      consumers.push(
        await startChangeConsumer({
          connection: o.connection,
          topic: feed.topic,
          partitions: o.partitions,
          pool: o.pool,
          // while the legacy holds the record its committed state wins, whoever wrote it: a
          // write-back still landing after a rollback is applied like any legacy change. Who
          // holds it is the job's one look at the emergency file (regimeOf), as for `apply`: a
          // consumer paused when the file appeared took the legacy's changes for its own echoes
          ignoreOrigins: async (run) => ((await regimeOf(run)) === 'legacy' ? [] : [WRITEBACK_ORIGIN]),
          echoes: feed.echoes && (async (changes, tx, run) => feed.echoes!(changes, { tx, systemOfRecord: await regimeOf(run) })),
          retry: o.retry,
          tombstoneRetentionDays: o.tombstoneRetentionDays,
          heartbeat: o.freshness && ((h) => o.freshness!.heard(h.topic, h.partition, h.atMs)),
          withdrawals: o.withdrawals && {
            ...o.withdrawals,
            pendingLocal: feed.pendingLocal ?? pendingLocal(feed.topic),
            decided: (r) => {
              if (r.state === 'held') return; // shown by the held gauge and /readyz, from the database
              o.metrics.withdrawals.inc({ topic: r.topic, outcome: 'withdrawn' }, r.withdrawn);
              o.metrics.withdrawals.inc({ topic: r.topic, outcome: 'kept' }, r.kept + r.refused);
            },
          },
          log: o.log,
          apply: async (changes, tx, run) => {
            // the job's one look at the emergency file: a consumer paused when it appeared must not merge by its old state
            const report = await feed.apply(changes, { tx, systemOfRecord: await regimeOf(run), recheck: () => o.systemOfRecord.refresh() });
            if (report.conflicts > 0) {
              o.metrics.conflicts.inc({ topic: feed.topic }, report.conflicts);
              o.metrics.changes.inc({ topic: feed.topic, outcome: 'conflict' }, report.conflicts);
            }
          },
          applied: ({ topic, applied, skipped }) => {
            if (applied.length > 0) o.metrics.changes.inc({ topic, outcome: 'applied' }, applied.length);
            if (skipped > 0) o.metrics.changes.inc({ topic, outcome: 'skipped' }, skipped);
            const now = Date.now();
            for (const c of applied) {
              const committed = c.source.commitTime ? Date.parse(c.source.commitTime) : NaN;
              if (Number.isFinite(committed)) o.metrics.lag.observe({ topic }, Math.max(0, (now - committed) / 1000));
            }
          },
        }),
      );
    }
  } catch (e) {
    await Promise.all(consumers.map((c) => c.close()));
    throw e;
  }
  return consumers;
}
