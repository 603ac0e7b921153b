/**
 * A re-snapshot's withdrawals: the rows a service holds that the legacy no longer has.
 *
 * The CDC reader publishes a re-snapshot (CDC_RESNAPSHOT, a lost slot, a TRUNCATE) as every
 * row of every table at the new slot's position P, then a snapshot end on every partition of
 * each topic. Upserting those rows cannot remove a row the legacy deleted while its DELETE was
 * lost with the old slot; the end can. Each partition that reaches a topic's end is recorded
 * here (in the service's database, in the job's transaction); the one that completes the set
 * decides, under an advisory lock of the topic, so two instances finishing the last two
 * partitions side by side decide once:
 *
 * - candidates: rows of the topic whose last change (ficus_change_positions) is from that
 *   source, not a delete, and older than P: every row the source had at P came with a position
 *   of P or later, so these it did not have. A row with no position from the source (made by
 *   the service, not yet written back) is never one;
 * - kept: candidates the service changed itself and has not seen written back (the service's
 *   `pendingLocal`), and keys whose snapshot event the database refused (dead-lettered: the
 *   source has them). Counted, never withdrawn;
 * - the bound: more than `maxPercent` of the topic's rows from the source, and nothing is
 *   withdrawn: the decision is kept as `held`, logged for a person and shown, until allowed
 *   once by naming the snapshot (`<topic>@<position>`);
 * - the rest are withdrawn as a `delete` of the key at P would be: its position claimed as a
 *   tombstone at P (an older change replayed late cannot bring it back) and the topic's own
 *   `apply` (history, metrics), with origin `ficus-resnapshot`, which nothing writes back.
 *
 * Everything of one decision is one transaction (the positions locked, FOR UPDATE): a crash
 * half-way withdraws nothing, and the redelivered end decides again; an end delivered again
 * after the decision finds it recorded and does nothing.
 */
import type pg from 'pg';
import type { Logger } from 'pino';
import { keyText, type ChangeEvent, type SnapshotEnd } from '../events/change-event.js';

/** the origin of the deletes a snapshot end makes: the service's own bookkeeping, nothing to write back */
export const RESNAPSHOT_ORIGIN = 'ficus-resnapshot';

const CHUNK = 500;

export interface WithdrawalOptions {
  /** SERVICE_SNAPSHOT_WITHDRAW_MAX_PERCENT: above this share of the topic's rows, nothing is withdrawn */
  maxPercent: number;
  /** snapshots allowed past the bound once, as `<topic>@<position>` (SERVICE_SNAPSHOT_WITHDRAW_ALLOW) */
  allowed: readonly string[];
  /** the keys (keyText) among these that carry a change of the service's own not yet written back */
  pendingLocal?: (keys: Record<string, unknown>[], client: pg.PoolClient) => Promise<Set<string>>;
  /** told of each decision (metrics): counts only */
  decided?: (r: WithdrawalReport) => void;
}

export interface WithdrawalReport {
  topic: string;
  source: string;
  position: string;
  state: 'withdrawn' | 'held';
  /** rows of the topic from the source, not deleted, when the snapshot was complete */
  topicRows: number;
  /** withdrawn, or (held) that would have been */
  withdrawn: number;
  /** kept: a change of the service's own waits to be written back */
  kept: number;
  /** kept: their snapshot event was refused by the database */
  refused: number;
  maxPercent: number;
}

/** applies deletes through the consumer's path (positions claimed, the topic's apply); answers those applied */
export type ApplyWithdrawals = (deletes: ChangeEvent[], client: pg.PoolClient) => Promise<ChangeEvent[]>;

export const snapshotName = (topic: string, position: string) => `${topic}@${position}`;

const older = `(length(p.position), p.position) < (length($3::text), $3::text COLLATE "C")`;

/**
 * Records that `partition` reached `end`; when every partition has, decides (see the module's
 * comment). Answers the decision made now, or undefined (partitions still to come, or decided
 * before).
 */
export async function reachSnapshotEnd(client: pg.PoolClient, end: SnapshotEnd, partition: number, o: WithdrawalOptions, apply: ApplyWithdrawals, log: Logger): Promise<WithdrawalReport | undefined> {
  await lockTopic(client, end.topic);
  await client.query(
    'INSERT INTO ficus_snapshot_end_partitions (topic, source, position, partition) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
    [end.topic, end.source, end.position, partition],
  );
  const { rows } = await client.query<{ n: number }>('SELECT count(DISTINCT partition)::int AS n FROM ficus_snapshot_end_partitions WHERE topic = $1 AND source = $2 AND position = $3', [end.topic, end.source, end.position]);
  if (rows[0]!.n < end.partitions) return undefined;
  const before = await client.query<{ state: string }>('SELECT state FROM ficus_snapshot_ends WHERE topic = $1 AND source = $2 AND position = $3', [end.topic, end.source, end.position]);
  const state = before.rows[0]?.state;
  if (state === 'withdrawn') return undefined;
  if (state === 'held' && !o.allowed.includes(snapshotName(end.topic, end.position))) return undefined;
  return decide(client, end, o, apply, log);
}

/**
 * Decides again the held snapshots of `topic` that are now allowed (SERVICE_SNAPSHOT_WITHDRAW_ALLOW):
 * run at the consumer's start. Answers the decisions made.
 */
export async function decideAllowed(pool: pg.Pool, topic: string, o: WithdrawalOptions, apply: ApplyWithdrawals, log: Logger, inTransaction: <T>(work: (c: pg.PoolClient) => Promise<T>) => Promise<T>): Promise<WithdrawalReport[]> {
  const { rows } = await pool.query<{ source: string; position: string; partitions: number }>("SELECT source, position, partitions FROM ficus_snapshot_ends WHERE topic = $1 AND state = 'held'", [topic]);
  const out: WithdrawalReport[] = [];
  for (const r of rows) {
    if (!o.allowed.includes(snapshotName(topic, r.position))) continue;
    const report = await inTransaction(async (client) => {
      await lockTopic(client, topic);
      const still = await client.query("SELECT 1 FROM ficus_snapshot_ends WHERE topic = $1 AND source = $2 AND position = $3 AND state = 'held'", [topic, r.source, r.position]);
      return still.rowCount ? decide(client, { topic, source: r.source, position: r.position, partitions: r.partitions }, o, apply, log) : undefined;
    });
    if (report) out.push(report);
  }
  return out;
}

/** The snapshots held by the bound, for a status: counts and names, no keys. */
export async function heldSnapshotEnds(db: pg.Pool | pg.PoolClient): Promise<WithdrawalReport[]> {
  const { rows } = await db.query<{ topic: string; source: string; position: string; topic_rows: number; withdrawn: number; kept: number; refused: number; max_percent: string }>(
    "SELECT topic, source, position, topic_rows, withdrawn, kept, refused, max_percent::text FROM ficus_snapshot_ends WHERE state = 'held' ORDER BY decided_at",
  );
  return rows.map((r) => ({ topic: r.topic, source: r.source, position: r.position, state: 'held', topicRows: r.topic_rows, withdrawn: r.withdrawn, kept: r.kept, refused: r.refused, maxPercent: Number(r.max_percent) }));
}

/**
 * Records that the database refused the snapshot events of these keys (a dead letter): the
 * source has them, so no end of that snapshot withdraws them.
 */
export async function noteRefusedSnapshotRows(client: pg.ClientBase, events: readonly ChangeEvent[]): Promise<void> {
  const snapshot = events.filter((e) => e.op === 'snapshot');
  if (snapshot.length === 0) return;
  await client.query(
    `INSERT INTO ficus_snapshot_refusals (topic, source, position, key)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) ON CONFLICT DO NOTHING`,
    [snapshot.map((e) => e.topic), snapshot.map((e) => e.source.name), snapshot.map((e) => e.source.position), snapshot.map((e) => keyText(e.key))],
  );
}

async function lockTopic(client: pg.PoolClient, topic: string): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock(hashtextextended('ficus-snapshot-end:' || $1, 0))", [topic]);
}

async function decide(client: pg.PoolClient, end: SnapshotEnd, o: WithdrawalOptions, apply: ApplyWithdrawals, log: Logger): Promise<WithdrawalReport> {
  const args = [end.topic, end.source, end.position];
  const total = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM ficus_change_positions p WHERE p.topic = $1 AND p.source = $2 AND NOT p.deleted', [end.topic, end.source]);
  const topicRows = total.rows[0]!.n;
  // locked in key order: a change of one of them being applied beside this waits, or (committed first, later than P) drops out
  const { rows } = await client.query<{ key: string; refused: boolean }>(
    `SELECT p.key, EXISTS (SELECT 1 FROM ficus_snapshot_refusals r WHERE r.topic = p.topic AND r.source = p.source AND r.position = $3 AND r.key = p.key) AS refused
       FROM ficus_change_positions p
      WHERE p.topic = $1 AND p.source = $2 AND NOT p.deleted AND ${older}
      ORDER BY p.key
        FOR UPDATE`,
    args,
  );
  const refused = rows.filter((r) => r.refused).length;
  const candidates = rows.filter((r) => !r.refused).map((r) => r.key);
  const pending = new Set<string>();
  if (o.pendingLocal) {
    for (let i = 0; i < candidates.length; i += CHUNK) {
      for (const k of await o.pendingLocal(candidates.slice(i, i + CHUNK).map(keyOfText), client)) pending.add(k);
    }
  }
  const toWithdraw = candidates.filter((k) => !pending.has(k));
  const kept = candidates.length - toWithdraw.length;
  const allowed = o.allowed.includes(snapshotName(end.topic, end.position));
  const overBound = toWithdraw.length * 100 > o.maxPercent * topicRows;
  const state: WithdrawalReport['state'] = overBound && !allowed ? 'held' : 'withdrawn';
  let withdrawn = 0;
  if (state === 'withdrawn') {
    const now = new Date().toISOString();
    for (let i = 0; i < toWithdraw.length; i += CHUNK) {
      const deletes = toWithdraw.slice(i, i + CHUNK).map((k) => withdrawal(end, keyOfText(k), now));
      withdrawn += (await apply(deletes, client)).length;
    }
  }
  const report: WithdrawalReport = { topic: end.topic, source: end.source, position: end.position, state, topicRows, withdrawn: state === 'held' ? toWithdraw.length : withdrawn, kept, refused, maxPercent: o.maxPercent };
  await client.query(
    `INSERT INTO ficus_snapshot_ends (topic, source, position, partitions, state, topic_rows, withdrawn, kept, refused, max_percent)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (topic, source, position) DO UPDATE SET state = excluded.state, topic_rows = excluded.topic_rows, withdrawn = excluded.withdrawn,
       kept = excluded.kept, refused = excluded.refused, max_percent = excluded.max_percent, decided_at = clock_timestamp()`,
    [end.topic, end.source, end.position, end.partitions, state, topicRows, report.withdrawn, kept, refused, o.maxPercent],
  );
  const fields = { topic: end.topic, source: end.source, snapshot: end.position, topicRows, kept, refused, maxPercent: o.maxPercent };
  if (state === 'held') {
    log.error(
      { ...fields, wouldWithdraw: toWithdraw.length },
      `a re-snapshot would withdraw more than ${o.maxPercent}% of the topic's rows: nothing withdrawn. Check the legacy table (a reload cut short?); ` +
        `to withdraw them, start the service with SERVICE_SNAPSHOT_WITHDRAW_ALLOW=${snapshotName(end.topic, end.position)}`,
    );
  } else if (withdrawn > 0 || kept > 0 || refused > 0) {
    log.warn({ ...fields, withdrawn, ...(allowed && overBound ? { allowedPastTheBound: true } : {}) }, 'a re-snapshot is complete: rows the legacy no longer has were withdrawn');
  } else {
    log.info({ ...fields, withdrawn }, 'a snapshot is complete: nothing to withdraw');
  }
  o.decided?.(report);
  return report;
}

/** a key as the events carry it, from its stored text (scalars as text: the feeds read them as such) */
function keyOfText(text: string): Record<string, unknown> {
  return Object.fromEntries(JSON.parse(text) as [string, unknown][]);
}

/**
 * The delete of a withdrawn key at the snapshot's position. Committed "now" for the conflict
 * rule: the rows with a local change still waiting are kept before this, and a local change
 * written back and landed was in the legacy, which has since deleted it. (`system` is not
 * carried by the end; no feed reads it.)
 */
function withdrawal(end: SnapshotEnd, key: Record<string, unknown>, now: string): ChangeEvent {
  return {
    schemaVersion: 1,
    topic: end.topic,
    op: 'delete',
    key,
    before: null,
    after: null,
    source: { system: 'postgres', name: end.source, database: '', schema: null, table: end.topic, position: end.position, txId: null, commitTime: now, origin: RESNAPSHOT_ORIGIN },
  };
}
