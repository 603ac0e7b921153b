/**
 * The legacy writer (write-back): after a flip, a new service is the system of record and the
 * legacy screens must still see what it writes. Its outbox events arrive on
 * `writeback.<service>.p<n>` (the outbox relay of @ficus/contracts/queues); each job is applied
 * to the legacy database in one transaction that
 *
 * 1. first writes a transactional logical message with the prefix `ficus-writeback`, which the
 *    PostgreSQL source reads at the head of the transaction and by which it tags (or drops)
 *    the transaction's changes: what Ficus wrote is not captured again as if legacy had (no loop);
 * 2. claims the events' outbox positions per service, topic and key in
 *    `ficus_writeback_positions` (migrations/cdc-writeback): an event at or before the last
 *    applied one for its key is a redelivery and is skipped;
 * 3. maps the topic's fields back to the legacy columns through the same mapping as the capture,
 *    and applies create, update and delete, in outbox order. An update that carries its
 *    `before` writes only the fields the service changed (over the job's changes of the key)
 *    and those its `before` leaves out (their legacy value unknown to the service):
 *    a legacy screen's edit of another field of the same row in the meantime stays (the
 *    service takes that edit field by field from CDC: service-kit's field-merge.ts). While the
 *    legacy holds the record (record-holder.ts), a screen's edit of a field the service changed
 *    too stays as well, and is counted and logged (outcome `legacy-kept`, the fields named). A
 *    new merge is recorded as the legacy records its own (merge-record.ts).
 *
 * Data the legacy schema refuses (a check, a value too long) is dead-lettered with the
 * database's reason (never the row's values), key by key: the job's other rows are written. A
 * foreign key's refusal is usually a parent still on its way (a patient in another partition,
 * a result through another service's queue): the job waits in place for it, up to `fkWaitMs`,
 * before the orphan becomes a dead letter. A legacy database that is not there now (down, not
 * accepting connections, a row lock held past `lockTimeoutMs`) is waited for in place, without
 * using up the job's tries, for as long as it takes, and shown (status, a gauge, one log line
 * per change of state). A deadlock or serialization failure is no outage: the database answered
 * and chose this transaction to abort; it is tried again in place and logged as that conflict.
 * Anything else is tried again in place, then dead-lettered.
 */
import { fileURLToPath } from 'node:url';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { CHANGE_EVENT_SCHEMA_VERSION, comparePositions, netChangePerKey, runMigrations, withTransaction, type ChangeBatch, type ChangeEvent, type Logger } from '@ficus/contracts';
import type { WritebackGoneRowHold, WritebackParentWait } from '@ficus/contracts/api';
import {
  applyKeyByKey,
  changeBatchProblem,
  eventsOfKey,
  isForeignKeyRefusal,
  isSessionConflict,
  isUnavailable,
  NotNowWatch,
  NotYetError,
  PartitionedConsumer,
  PermanentError,
  reasonWithoutValues,
  refusalPart,
  refusalReason,
  sqlState,
  writebackQueuePrefix,
  type KeyRefusal,
  type RetryPolicy,
  type WaitingState,
} from '@ficus/contracts/queues';
import type { CapturedTable } from '../postgres/preflight.js';
import { applyEvent, claimPositions, targetsOf, type TopicTarget } from './legacy-apply.js';
import { createdKeys, GoneRowWaits, goneRows, type KeyMoveSource } from './gone-rows.js';
import { HeldJobs, type ParentKey } from './held-jobs.js';
import { markWriteback } from './origin-marks.js';
import type { RecordHolders } from './record-holder.js';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../../../migrations/cdc-writeback', import.meta.url));

/** Creates the writer's position table in the legacy database. */
export function migrateWriteback(legacyUrl: string, log: Logger): Promise<string[]> {
  return runMigrations({ databaseUrl: legacyUrl, dir: MIGRATIONS_DIR, table: 'ficus_cdc_writeback_pgmigrations', log, createDatabase: false });
}

export interface WritebackOutcome {
  service: string;
  topic: string;
  /** legacy-kept: changes applied but for fields a legacy edit made meanwhile, kept while the legacy holds the record */
  outcome: 'applied' | 'skipped' | 'refused' | 'legacy-kept';
  count: number;
}

export interface LegacyWriterOptions {
  connection: Redis;
  pool: pg.Pool;
  tables: CapturedTable[];
  services: string[];
  partitions: number;
  retry?: Partial<RetryPolicy>;
  /** how long a job whose row a foreign key refuses waits for the parent before it is dead-lettered (default 60 s) */
  fkWaitMs?: number;
  /** the writer's transactions: lock_timeout (a legacy row lock held longer is "not now"; default 10 s; 0 none) */
  lockTimeoutMs?: number;
  /** the writer's transactions: statement_timeout (default 60 s; 0 none) */
  statementTimeoutMs?: number;
  /** who holds each service's record (the rule store); without it the service's value is always written */
  recordHolders?: RecordHolders;
  /** the CDC source whose key changes an update of a row the legacy no longer has follows (gone-rows.ts); without it such an update is dead-lettered at once */
  keyMoves?: KeyMoveSource;
  /** how long such an update waits for CDC to read past the moment its row was seen missing before it is dead-lettered (default 5 min; CDC_WRITEBACK_GONE_WAIT_MS) */
  goneWaitMs?: number;
  log: Logger;
  outcome: (o: WritebackOutcome) => void;
}

interface Written {
  applied: ChangeEvent[];
  refusals: KeyRefusal[];
  /** fields a legacy edit kept (the legacy holding the record), per change */
  kept: { change: ChangeEvent; fields: string[] }[];
}

/** SQLSTATE classes the legacy schema uses to refuse data (22 data exception, 23 integrity): a retry cannot mend them (a foreign key, after its wait) */
const isRefusal = (e: unknown) => /^2[23]/.test(sqlState(e) ?? '');

/** `work` under a savepoint: its answer, or undefined (rolled back to the savepoint) when the legacy refused it */
async function refusedAlone<T>(client: pg.ClientBase, savepoint: string, work: () => Promise<T>): Promise<T | undefined> {
  await client.query(`SAVEPOINT ${savepoint}`);
  try {
    const r = await work();
    await client.query(`RELEASE SAVEPOINT ${savepoint}`);
    return r;
  } catch (e) {
    if (!isRefusal(e)) throw e;
    await client.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
    return undefined;
  }
}

export class LegacyWriter {
  private readonly consumers = new Map<string, PartitionedConsumer<ChangeBatch>>();
  /** a service's consumer, for its handler (which may run before PartitionedConsumer.start answers) */
  private readonly started = new Map<string, { consumer: Promise<PartitionedConsumer<ChangeBatch>>; resolve: (c: PartitionedConsumer<ChangeBatch>) => void }>();
  private readonly targets: Map<string, TopicTarget>;
  private readonly applied = new Map<string, { at: string; count: number }>();
  private readonly waits = new Map<string, NotNowWatch>();
  /** jobs held in place, each wait (a gone row's, a parent's) on its own clock, and what they wrote meanwhile */
  private readonly held = new HeldJobs();
  /** jobs whose updates found their legacy rows gone */
  private readonly gone: GoneRowWaits;
  /** a refusing foreign key's parent table, by schema, table and constraint (the catalogue asked once) */
  private readonly parentTables = new Map<string, string | null>();

  constructor(private readonly o: LegacyWriterOptions) {
    this.targets = targetsOf(o.tables);
    this.gone = new GoneRowWaits({ ...o, targets: this.targets, held: this.held, transaction: (service, work) => this.transaction(service, work) });
    for (const service of o.services) {
      this.waits.set(service, new NotNowWatch({ log: o.log, what: 'the legacy database', fields: { writebackService: service } }));
      let resolve!: (c: PartitionedConsumer<ChangeBatch>) => void;
      const consumer = new Promise<PartitionedConsumer<ChangeBatch>>((r) => (resolve = r));
      this.started.set(service, { consumer, resolve });
    }
  }

  async start(): Promise<void> {
    for (const service of this.o.services) {
      const consumer = await PartitionedConsumer.start<ChangeBatch>({
        connection: this.o.connection,
        prefix: writebackQueuePrefix(service),
        partitions: this.o.partitions,
        retry: this.o.retry,
        log: this.o.log,
        handle: (job, partition) => this.handle(service, job, partition),
        // a job given up on while held: neither its clocks nor its hold in the status outlive it
        deadLettering: async (job) => {
          this.held.done(`${job.queueName}\u0000${String(job.id)}`);
        },
      });
      this.consumers.set(service, consumer);
      this.started.get(service)!.resolve(consumer);
    }
  }

  status(): { services: { name: string; lastAppliedAt: string | null; applied: number; waiting: WaitingState | null; goneRows: WritebackGoneRowHold[]; parentWaits: WritebackParentWait[] }[] } {
    return {
      services: this.o.services.map((s) => ({
        name: s,
        lastAppliedAt: this.applied.get(s)?.at ?? null,
        applied: this.applied.get(s)?.count ?? 0,
        waiting: this.waits.get(s)!.status(),
        goneRows: this.gone.status(s),
        parentWaits: this.parentWaitsOf(s),
      })),
    };
  }

  /** the partitions held for parent rows: shown where operators look, not only in the log (schema names, no keys) */
  private parentWaitsOf(service: string): WritebackParentWait[] {
    return this.held.all(service, 'parent').map((w) => ({
      partition: w.partition,
      topics: w.topics,
      rows: w.rows,
      foreignKeys: w.foreignKeys,
      since: new Date(w.since).toISOString(),
      until: new Date(w.until).toISOString(),
    }));
  }

  async deadLetters(): Promise<number> {
    const all = await Promise.all([...this.consumers.values()].map((c) => c.deadLetters(1000)));
    return all.reduce((n, d) => n + d.length, 0);
  }

  private check(service: string, events: ChangeEvent[]): void {
    for (const e of events) {
      if (e.source.system !== 'outbox' || e.source.name !== service) throw new PermanentError(`an event from ${e.source.system} "${e.source.name}" on ${service}'s write-back queue`);
      const target = this.targets.get(e.topic);
      if (!target) throw new PermanentError(`topic "${e.topic}" is not in the CDC mapping: nothing to write it to`);
      if (!target.writeBack) throw new PermanentError(`topic "${e.topic}" is not written back (writeBack: false in the mapping)`);
      if (e.op === 'snapshot') throw new PermanentError('a snapshot event cannot be written back');
      for (const f of Object.keys(e.after ?? {})) if (!target.columns.has(f)) throw new PermanentError(`topic "${e.topic}" has no field "${f}" in the mapping`);
      for (const [k] of target.key) if (e.key[k] === undefined || e.key[k] === null) throw new PermanentError(`an event of topic "${e.topic}" without its key field "${k}"`);
    }
  }

  private async handle(service: string, job: Job<ChangeBatch>, partition: number): Promise<void> {
    const problem = changeBatchProblem(job.data);
    if (problem) throw new PermanentError(`not a change batch of version 1: ${problem}`);
    const events = job.data.events;
    this.check(service, events);
    const topics = [...new Set(events.map((e) => e.topic))];
    const latest = topics.flatMap((t) => netChangePerKey(events.filter((e) => e.topic === t))).sort((a, b) => comparePositions(a.source.position, b.source.position));
    const watch = this.waits.get(service)!;
    const waitKey = `${job.queueName}\u0000${String(job.id)}`;
    let written: Written;
    try {
      written = await this.write(service, partition, latest, waitKey, createdKeys(events));
    } catch (e) {
      if (e instanceof NotYetError) {
        watch.answered(partition);
        throw e;
      }
      if (isSessionConflict(e)) {
        // the database answered: not "not available" (isUnavailable counts these as not now for
        // consumers that do not tell them apart); the same try again in place, without using up tries
        watch.answered(partition);
        const err = reasonWithoutValues(e);
        this.o.log.warn({ writebackService: service, partition, err }, 'write-back conflicted with another legacy session (deadlock/serialization): retried');
        throw new NotYetError(`the write-back conflicted with another legacy session (deadlock/serialization): retried: ${err}`);
      }
      if (isUnavailable(e)) throw watch.notNow(partition, e);
      watch.answered(partition);
      throw e;
    }
    watch.answered(partition);
    const earlier = this.held.done(waitKey);
    await this.deadLetterRefusals(service, job, events, written.refusals);
    this.count(service, events, written.applied, earlier, written.refusals);
    this.reportKept(service, written.kept);
  }

  /** what the legacy kept over the service's value: operators see it, without values */
  private reportKept(service: string, kept: Written['kept']): void {
    for (const { change, fields } of kept) {
      this.o.outcome({ service, topic: change.topic, outcome: 'legacy-kept', count: 1 });
      this.o.log.info(
        { writebackService: service, topic: change.topic, position: change.source.position, fields },
        'write-back left fields as the legacy has them: edited there meanwhile, and the legacy holds the record',
      );
    }
  }

  /**
   * Writes a job's changes (the last of each key) in one transaction; when some row is refused,
   * again key by key: the others are written, and the refused rows answered (to be
   * dead-lettered). Rows a foreign key refuses wait for their parents (NotYetError) until
   * `fkWaitMs` is over; what could be written meanwhile is committed (a retry skips it by
   * position), so that a parent held in this job, or a row another lane waits for, goes on.
   */
  private async write(service: string, partition: number, latest: ChangeEvent[], waitKey: string, created: Set<string>): Promise<Written> {
    const { written, gone } = await this.writePresent(service, partition, latest, waitKey, created);
    if (gone.length === 0) {
      this.held.end(waitKey, 'goneRows');
      return written;
    }
    const settled = await this.gone.settle(service, partition, gone, waitKey);
    const all: Written = { applied: [...written.applied, ...settled.applied], refusals: [...written.refusals, ...settled.refusals], kept: [...written.kept, ...settled.kept] };
    if (settled.waiting === 0) return all;
    // what was written stays (a retry skips it by position); the rest is tried again, refusals included
    this.held.wrote(waitKey, service, partition, all.applied);
    this.count(service, [], all.applied, [], []);
    this.reportKept(service, all.kept);
    throw new NotYetError('waiting for CDC to read past the moment a written-back row was seen gone from the legacy (its key changed, or deleted)');
  }

  /** The job's changes but the updates of rows the legacy no longer has (answered as `gone`). */
  private async writePresent(service: string, partition: number, latest: ChangeEvent[], waitKey: string, created: Set<string>): Promise<{ written: Written; gone: ChangeEvent[] }> {
    let kept: Written['kept'] = [];
    let gone: ChangeEvent[] = [];
    // `found`: the job's gone rows, looked for at once (the rows there locked) before the key-by-key round
    const applyClaimed = async (client: pg.PoolClient, changes: ChangeEvent[], found?: ChangeEvent[]) => {
      const missing = found ? changes.filter((c) => found.includes(c)) : await goneRows(client, service, this.targets, changes, created);
      gone.push(...missing);
      const claimed = await claimPositions(client, service, missing.length > 0 ? changes.filter((c) => !missing.includes(c)) : changes);
      for (const e of claimed) {
        const fields = await applyEvent(client, service, this.targets.get(e.topic)!, e, this.o.recordHolders);
        if (fields.length > 0) kept.push({ change: e, fields });
      }
      return claimed;
    };
    try {
      const applied = await this.transaction(service, (client) => {
        kept = [];
        gone = [];
        return applyClaimed(client, latest);
      });
      // no row refused: the parents a wait was for are there
      this.held.end(waitKey, 'parent');
      return { written: { applied, refusals: [], kept }, gone };
    } catch (e) {
      if (!isRefusal(e)) throw e;
    }
    const fkWaitMs = this.o.fkWaitMs ?? 60_000;
    // once a job has waited its time for parents (the first refusal started the clock)
    const giveUp = fkWaitMs <= 0 || this.held.over(waitKey, 'parent');
    const r = await this.transaction(service, async (client) => {
      kept = [];
      gone = [];
      // a key the legacy refuses to read (a value its column cannot take) fails the one look for
      // all the rows: then each key is looked for in its own round, refused alone
      const found = await refusedAlone(client, 'ficus_gone_rows', () => goneRows(client, service, this.targets, latest, created));
      return applyKeyByKey(client, latest, (change) => applyClaimed(client, [change], found), isRefusal);
    });
    // a key refused rolled back what it kept too
    const keptOf = (applied: ChangeEvent[]) => kept.filter((k) => applied.includes(k.change));
    const orphans = r.refusals.filter((x) => isForeignKeyRefusal(x.error));
    if (orphans.length === 0) this.held.end(waitKey, 'parent');
    if (orphans.length === 0 || giveUp) return { written: { ...r, kept: keptOf(r.applied) }, gone };
    // what waits now (fewer rows once some parents came), for the status
    const detail = { topics: [...new Set(orphans.map((x) => x.change.topic))].sort(), rows: orphans.length, foreignKeys: await this.parentKeys(orphans.map((x) => x.error)) };
    if (this.held.waiting(waitKey, 'parent')) this.held.update(waitKey, 'parent', detail);
    else {
      this.held.begin(waitKey, service, partition, 'parent', fkWaitMs, detail);
      this.o.log.info(
        { writebackService: service, topics: [...new Set(orphans.map((x) => x.change.topic))], rows: orphans.length, waitMs: fkWaitMs, err: reasonWithoutValues(orphans[0]!.error) },
        'write-back waits for a parent row (a foreign key refused it); its partition holds',
      );
    }
    this.held.wrote(waitKey, service, partition, r.applied);
    this.count(service, [], r.applied, [], []);
    this.reportKept(service, keptOf(r.applied));
    throw new NotYetError(`waiting for a parent row: ${reasonWithoutValues(orphans[0]!.error)}`);
  }

  /**
   * The foreign keys behind refusals: the error names the row's table and the constraint (never
   * values: its detail, which quotes the key, is not read); the parent table is the catalogue's.
   */
  private async parentKeys(errors: unknown[]): Promise<ParentKey[]> {
    const keys = new Map<string, ParentKey>();
    for (const e of errors) {
      const { schema, table, constraint } = e as { schema?: string; table?: string; constraint?: string };
      if (!table || !constraint) continue;
      const id = `${schema ?? ''}\u0000${table}\u0000${constraint}`;
      if (keys.has(id)) continue;
      if (!this.parentTables.has(id)) {
        const parent = await this.o.pool
          .query<{ parent: string }>(
            'SELECT confrelid::regclass::text AS parent FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace WHERE c.contype = $1 AND c.conname = $2 AND t.relname = $3 AND ($4::text IS NULL OR n.nspname = $4)',
            ['f', constraint, table, schema ?? null],
          )
          .then((r) => (r.rows.length === 1 ? r.rows[0]!.parent : null))
          // the status says less, the wait is the same
          .catch(() => undefined);
        if (parent === undefined) {
          keys.set(id, { table, constraint, parentTable: null });
          continue;
        }
        this.parentTables.set(id, parent);
      }
      keys.set(id, { table, constraint, parentTable: this.parentTables.get(id)! });
    }
    return [...keys.values()].sort((a, b) => `${a.table} ${a.constraint}`.localeCompare(`${b.table} ${b.constraint}`));
  }

  /** One write-back transaction: bounded waits for locks, the marker first (no loop), then the work. */
  private transaction<T>(service: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return withTransaction(this.o.pool, async (client) => {
      // a forgotten legacy row lock must not hold a lane silently for ever: past this it is "not now", retried and shown
      const lock = this.o.lockTimeoutMs ?? 10_000;
      const statement = this.o.statementTimeoutMs ?? 60_000;
      await client.query(`SET LOCAL lock_timeout = ${Math.max(0, Math.floor(lock))}; SET LOCAL statement_timeout = ${Math.max(0, Math.floor(statement))}`);
      // first change in the transaction: the CDC reader sees it before any of the changes below
      await markWriteback(client, service);
      return work(client);
    });
  }

  private async deadLetterRefusals(service: string, job: Job<ChangeBatch>, events: ChangeEvent[], refusals: KeyRefusal[]): Promise<void> {
    if (refusals.length === 0) return;
    const consumer = await this.started.get(service)!.consumer;
    for (const r of refusals) {
      const of = eventsOfKey(events, r);
      const waited = isForeignKeyRefusal(r.error) ? `, still so after waiting ${Math.round((this.o.fkWaitMs ?? 60_000) / 1000)} s for the parent row` : '';
      const reason = `${refusalReason('the legacy database', r, of, `topic ${r.change.topic} (legacy ${this.targets.get(r.change.topic)!.table})`)}${waited}`;
      this.o.outcome({ service, topic: r.change.topic, outcome: 'refused', count: of.length });
      await consumer.deadLetterPart(job, refusalPart(r), { schemaVersion: CHANGE_EVENT_SCHEMA_VERSION, events: of }, new Error(reason));
    }
  }

  /** outcomes per topic: applied now; skipped (a redelivery), less what was refused or written by an earlier round of the job */
  private count(service: string, events: ChangeEvent[], applied: ChangeEvent[], earlier: ChangeEvent[], refusals: KeyRefusal[]): void {
    const notSkipped = new Set([...refusals.flatMap((r) => eventsOfKey(events, r)), ...earlier.flatMap((c) => eventsOfKey(events, { change: c, error: null }))]);
    const appliedPerTopic = new Map<string, number>();
    for (const e of applied) appliedPerTopic.set(e.topic, (appliedPerTopic.get(e.topic) ?? 0) + 1);
    for (const topic of new Set([...events, ...applied].map((e) => e.topic))) {
      const n = appliedPerTopic.get(topic) ?? 0;
      const skipped = events.filter((e) => e.topic === topic && !notSkipped.has(e)).length - n;
      if (n > 0) this.o.outcome({ service, topic, outcome: 'applied', count: n });
      if (skipped > 0) this.o.outcome({ service, topic, outcome: 'skipped', count: skipped });
    }
    const seen = this.applied.get(service) ?? { at: '', count: 0 };
    if (applied.length > 0) this.applied.set(service, { at: new Date().toISOString(), count: seen.count + applied.length });
  }

  async close(): Promise<void> {
    await Promise.all([...this.consumers.values()].map((c) => c.close()));
  }
}
