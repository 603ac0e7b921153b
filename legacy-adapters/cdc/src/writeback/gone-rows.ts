/**
 * An outbox update whose legacy row is not there. Inserting the whole row (as the writer once
 * did) made a second chart when a legacy screen had changed the row's key meanwhile (an MRN
 * renamed within the CDC lag: the legacy then held the patient under the new key and, again,
 * under the old one) or brought back a row the legacy had deleted. A key the job itself creates
 * (the service's own new row, its create and a later update netted into one) is still inserted.
 *
 * Otherwise the writer looks for a key change CDC has read of that row (publish/key-moves.ts)
 * and writes the update to the row's new key; while CDC has not yet read past the moment the
 * row was seen missing (the slot's confirmed position against the WAL insert position then),
 * it waits in place; past it, with no key change, the row was deleted in the legacy while the
 * service changed it, and the change is dead-lettered as that conflict, never inserted.
 */
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { comparePositions, keyText, type ChangeEvent, type Logger } from '@ficus/contracts';
import type { WritebackGoneRowHold } from '@ficus/contracts/api';
import type { KeyRefusal } from '@ficus/contracts/queues';
import { movedTo } from '../publish/key-moves.js';
import { quoteIdent } from '../postgres/replication-connection.js';
import type { HeldJobs } from './held-jobs.js';
import { applyEvent, claimPositions, type TopicTarget } from './legacy-apply.js';
import type { RecordHolders } from './record-holder.js';

/** Where the legacy writer learns of the legacy's key changes: the PostgreSQL source of the same deployable. */
export interface KeyMoveSource {
  /** the CDC source's name (`source.name` of its events) */
  source: string;
  /** its replication slot, whose confirmed position says how far CDC has read */
  slot: string;
}

const keyOfJob = (e: ChangeEvent) => `${e.topic}\u0000${keyText(e.key)}`;

/** The keys a job creates: their updates may be inserted (the service's own new rows). */
export const createdKeys = (events: readonly ChangeEvent[]) => new Set(events.filter((e) => e.op === 'create').map(keyOfJob));

function rowWhere(t: TopicTarget, key: Record<string, unknown>): { where: string; values: unknown[] } {
  return { where: t.key.map(([, column], i) => `${quoteIdent(column)} = $${i + 1}`).join(' AND '), values: t.key.map(([field]) => key[field]) };
}

/** Whether the row of `key` is there (locked to the transaction's end when it is). */
export async function rowThere(client: pg.ClientBase, t: TopicTarget, key: Record<string, unknown>): Promise<boolean> {
  const { where, values } = rowWhere(t, key);
  return ((await client.query(`SELECT 1 FROM ${t.table} WHERE ${where} FOR UPDATE`, values)).rowCount ?? 0) > 0;
}

/** Rows per statement of `lockRows`: its match of the rows to the keys grows with their square. */
export const LOCK_CHUNK = 200;

/**
 * `changes` (of one table) in the order the table's key sorts their keys: each key value typed
 * and collated as its column, so that the order is the one `ORDER BY` the key columns gives (an
 * integer key given as '1000' and as 200 sorts numerically; a text key by the column's
 * collation), ties in their own order. Asked of the database: an order worked out here could
 * differ from the column's, and then two jobs' chunks could still take rows in two orders.
 */
async function inKeyOrder(client: pg.ClientBase, t: TopicTarget, changes: ChangeEvent[]): Promise<ChangeEvent[]> {
  const { rows: columns } = await client.query<{ name: string; type: string; collation: string | null }>(
    `SELECT a.attname AS name, format_type(a.atttypid, NULL) AS type,
            CASE WHEN a.attcollation = 0 THEN NULL ELSE quote_ident(n.nspname) || '.' || quote_ident(c.collname) END AS collation
       FROM pg_attribute a LEFT JOIN pg_collation c ON c.oid = a.attcollation LEFT JOIN pg_namespace n ON n.oid = c.collnamespace
      WHERE a.attrelid = $1::regclass AND a.attname = ANY($2::text[]) AND a.attnum > 0 AND NOT a.attisdropped`,
    [t.table, t.key.map(([, column]) => column)],
  );
  const typed = t.key.map(([field, column], k) => {
    const c = columns.find((r) => r.name === column);
    if (!c) throw new Error(`write-back: key column ${column} of ${t.table} not found`);
    return { sql: `$${k + 2}::${c.type}[]`, order: `k.c${k}${c.collation ? ` COLLATE ${c.collation}` : ''}`, values: changes.map((e) => e.key[field]) };
  });
  const { rows } = await client.query<{ i: number }>(
    `SELECT k.i FROM unnest($1::int[], ${typed.map((c) => c.sql).join(', ')}) AS k(i, ${typed.map((_, k) => `c${k}`).join(', ')}) ORDER BY ${typed.map((c) => c.order).join(', ')}, k.i`,
    [changes.map((_, i) => i), ...typed.map((c) => c.values)],
  );
  return rows.map((r) => changes[r.i]!);
}

/**
 * Which of `changes` have their legacy row there, the rows locked to the transaction's end: one
 * statement per table (per LOCK_CHUNK keys), the tables in name order and each one's rows in key
 * order, so that two writers locking overlapping rows take them in one order and cannot deadlock
 * (one SELECT per update, in outbox order, cost a statement per row and could). More keys than a
 * chunk are put in key order first (inKeyOrder), so each chunk is the next stretch of that order:
 * chunks of keys in arrival order took the rows in key order within each chunk only, and two
 * large jobs (outbox batches of up to 1000) could still deadlock. Each key value
 * is its own parameter compared with its column, as rowThere's are: a key given as a number or
 * as a string is read alike.
 */
export async function lockRows(client: pg.ClientBase, targets: Map<string, TopicTarget>, changes: readonly ChangeEvent[]): Promise<Set<ChangeEvent>> {
  const there = new Set<ChangeEvent>();
  const byTable = new Map<string, { t: TopicTarget; changes: ChangeEvent[] }>();
  for (const e of changes) {
    const t = targets.get(e.topic)!;
    const of = byTable.get(t.table) ?? { t, changes: [] };
    of.changes.push(e);
    byTable.set(t.table, of);
  }
  for (const table of [...byTable.keys()].sort()) {
    const { t, changes: arrived } = byTable.get(table)!;
    const all = arrived.length > LOCK_CHUNK ? await inKeyOrder(client, t, arrived) : arrived;
    const columns = t.key.map(([, column]) => quoteIdent(column));
    const row = columns.length === 1 ? columns[0]! : `(${columns.join(', ')})`;
    for (let from = 0; from < all.length; from += LOCK_CHUNK) {
      const chunk = all.slice(from, from + LOCK_CHUNK);
      const values: unknown[] = [];
      const keys = chunk.map((e) => {
        const params = t.key.map(([field]) => `$${values.push(e.key[field])}`);
        return params.length === 1 ? params[0]! : `(${params.join(', ')})`;
      });
      // which keys each row is (two key texts can name one row: '007' and 7 of an integer
      // column): their parameters again, typed by the columns as in the WHERE
      const which = keys.map((k, i) => `CASE WHEN ${row} = ${k} THEN ${i} END`).join(', ');
      const { rows } = await client.query<{ i: number[] }>(
        `SELECT array_remove(ARRAY[${which}], NULL) AS i FROM ${t.table} WHERE ${row} IN (${keys.join(', ')}) ORDER BY ${columns.join(', ')} FOR UPDATE`,
        values,
      );
      for (const r of rows) for (const i of r.i) there.add(chunk[i]!);
    }
  }
  return there;
}

/**
 * Among `changes`, the updates of keys the job does not create whose legacy row is not there
 * and which are not redeliveries (a position at or before the one claimed for the key is
 * skipped as ever). The rows of all the changes that are there stay locked (lockRows), so none
 * goes before it is written. The claimed positions are read once, for the gone rows only.
 */
export async function goneRows(client: pg.ClientBase, service: string, targets: Map<string, TopicTarget>, changes: readonly ChangeEvent[], created: Set<string>): Promise<ChangeEvent[]> {
  const there = await lockRows(client, targets, changes);
  const missing = changes.filter((e) => e.op === 'update' && !created.has(keyOfJob(e)) && !there.has(e));
  if (missing.length === 0) return [];
  const { rows } = await client.query<{ topic: string; key: string; position: string }>(
    'SELECT topic, key, position FROM ficus_writeback_positions WHERE service = $1 AND (topic, key) IN (SELECT * FROM unnest($2::text[], $3::text[]))',
    [service, missing.map((e) => e.topic), missing.map((e) => keyText(e.key))],
  );
  const claimed = new Map(rows.map((r) => [`${r.topic}\u0000${r.key}`, r.position]));
  return missing.filter((e) => {
    const position = claimed.get(keyOfJob(e));
    return !(position && comparePositions(e.source.position, position) <= 0);
  });
}

/** The change written to another key: the key fields of its images too. */
export function rekeyed(e: ChangeEvent, key: Record<string, unknown>): ChangeEvent {
  return { ...e, key, before: e.before && { ...e.before, ...key }, after: e.after && { ...e.after, ...key } };
}

/** The change of a gone row moved to the key its row has now (following key changes, up to 8), or undefined when CDC read none to a row that is there. */
export async function followMoves(client: pg.ClientBase, redis: Redis, moves: KeyMoveSource, t: TopicTarget, e: ChangeEvent): Promise<ChangeEvent | undefined> {
  let key = e.key;
  const seen = new Set([keyText(key)]);
  for (let hop = 0; hop < 8; hop++) {
    const to = await movedTo(redis, moves.source, e.topic, key);
    if (!to || seen.has(keyText(to))) return undefined;
    seen.add(keyText(to));
    key = to;
    if (await rowThere(client, t, key)) return rekeyed(e, key);
  }
  return undefined;
}

/** Where the legacy's WAL is now: every change committed so far lies before it. */
export async function walNow(client: pg.ClientBase): Promise<string> {
  return (await client.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0]!.lsn;
}

/** Whether CDC has read, and enqueued, everything the legacy committed before `lsn` (its slot confirmed that far). */
export async function cdcReadPast(client: pg.ClientBase | pg.Pool, slot: string, lsn: string): Promise<boolean> {
  const { rows } = await client.query<{ past: boolean }>('SELECT confirmed_flush_lsn >= $2::pg_lsn AS past FROM pg_replication_slots WHERE slot_name = $1', [slot, lsn]);
  return rows[0]?.past === true;
}

/** Why a gone row's change is dead-lettered (no key or row values: the letter's events carry them). */
export const goneReason = {
  deleted:
    'the legacy has no row of this key any more and CDC, read past the moment that was seen, read no key change of it: deleted in the legacy while the service changed it (an update/delete conflict); not written as a new row, which would bring the record back beside any other copy of it',
  unknown: (waitedMs: number) =>
    `the legacy has no row of this key any more and CDC did not read that far within ${Math.round(waitedMs / 1000)} s: not known whether it was deleted or its key changed; not written as a new row (retry the letter once CDC streams)`,
  noSource: 'the legacy has no row of this key any more (deleted, or its key changed, which this writer cannot follow without a PostgreSQL CDC source): not written as a new row',
};

export interface GoneRowWaitsOptions {
  pool: pg.Pool;
  connection: Redis;
  keyMoves?: KeyMoveSource;
  /** how long a gone row's change waits for CDC to read that far (default 5 min) */
  goneWaitMs?: number;
  recordHolders?: RecordHolders;
  targets: Map<string, TopicTarget>;
  log: Logger;
  /** the writer's held jobs, where a job's wait for CDC is kept beside its other waits */
  held: HeldJobs;
  /** the writer's transaction (its marker first: no loop) */
  transaction: <T>(service: string, work: (client: pg.PoolClient) => Promise<T>) => Promise<T>;
}

export interface Settled {
  applied: ChangeEvent[];
  refusals: KeyRefusal[];
  kept: { change: ChangeEvent; fields: string[] }[];
  /** how many still wait for CDC */
  waiting: number;
}

const DEFAULT_GONE_WAIT_MS = 300_000;

/** The writer's jobs with updates of gone rows: each waits (a `goneRows` wait of held-jobs.ts) from the legacy's WAL position when they were seen missing. */
export class GoneRowWaits {
  constructor(private readonly o: GoneRowWaitsOptions) {}

  /** The partitions of `service` held now: the log line alone left an operator guessing why a write-back stood still. */
  status(service: string): WritebackGoneRowHold[] {
    return this.o.held.all(service, 'goneRows').map((w) => ({
      partition: w.partition,
      topics: w.topics,
      rows: w.rows,
      since: new Date(w.since).toISOString(),
      waitingFor: `CDC (slot ${this.o.keyMoves?.slot ?? '?'}) to read the legacy's WAL past ${w.lsn}, where it stood when the rows were seen missing: each is then written to its row's new key where CDC read a key change, or dead-lettered as deleted in the legacy`,
      until: new Date(w.until).toISOString(),
    }));
  }

  /**
   * Each gone row's change written to the key CDC read its row move to; the others
   * dead-lettered once CDC has read past the moment they were seen gone (or after
   * `goneWaitMs`), never inserted; until then they wait.
   */
  async settle(service: string, partition: number, gone: ChangeEvent[], waitKey: string): Promise<Settled> {
    const out: Settled = { applied: [], refusals: [], kept: [], waiting: 0 };
    const moves = this.o.keyMoves;
    if (!moves) return { ...out, refusals: gone.map((change) => ({ change, error: new Error(goneReason.noSource) })) };
    let wait = this.o.held.waiting(waitKey, 'goneRows');
    if (!wait) {
      const client = await this.o.pool.connect();
      try {
        // all of them wait until settled below: the status read meanwhile shows them (it showed none)
        const topics = [...new Set(gone.map((e) => e.topic))].sort();
        wait = this.o.held.begin(waitKey, service, partition, 'goneRows', this.o.goneWaitMs ?? DEFAULT_GONE_WAIT_MS, { lsn: await walNow(client), topics, rows: gone.length });
      } finally {
        client.release();
      }
      this.o.log.info({ writebackService: service, topics: [...new Set(gone.map((e) => e.topic))], rows: gone.length }, 'write-back of a row the legacy no longer has waits for CDC to read that far: its key changed there, or it was deleted; its partition holds');
    }
    // read before the moves: a move CDC read before its slot got this far is in Redis by then
    const past = await cdcReadPast(this.o.pool, moves.slot, wait.lsn);
    const waiting = new Set<string>();
    for (const e of gone) {
      const t = this.o.targets.get(e.topic)!;
      const followed = await this.o.transaction(service, async (client) => {
        const to = await followMoves(client, this.o.connection, moves, t, e);
        if (!to) return undefined;
        // the old key's position too: a redelivery of the change is skipped
        const claimed = await claimPositions(client, service, [e, to]);
        if (!claimed.includes(e) || !claimed.includes(to)) return [];
        return applyEvent(client, service, t, to, this.o.recordHolders);
      });
      if (followed) {
        out.applied.push(e);
        if (followed.length > 0) out.kept.push({ change: e, fields: followed });
        this.o.log.info({ writebackService: service, topic: e.topic, position: e.source.position }, 'write-back followed a key change made in the legacy: written to the row under its new key');
      } else if (past) out.refusals.push({ change: e, error: new Error(goneReason.deleted) });
      else if (this.o.held.over(waitKey, 'goneRows')) out.refusals.push({ change: e, error: new Error(goneReason.unknown(Date.now() - wait.since)) });
      else {
        out.waiting++;
        waiting.add(e.topic);
      }
    }
    wait.topics = [...waiting].sort();
    wait.rows = out.waiting;
    if (out.waiting === 0) this.o.held.end(waitKey, 'goneRows');
    return out;
  }
}
