/**
 * The legacy writer's SQL: the topics' legacy tables as the mapping gives them, the claim of
 * outbox positions per service, topic and key (`ficus_writeback_positions`: an event at or
 * before the last applied one for its key is a redelivery), and one event applied to its table.
 */
import type pg from 'pg';
import { keyText, type ChangeEvent } from '@ficus/contracts';
import type { CapturedTable } from '../postgres/preflight.js';
import { quoteIdent } from '../postgres/replication-connection.js';
import { followMerge, mergeTargetOf, recordMerge, type MergeFollower, type MergeTarget } from './merge-record.js';
import type { RecordHolders } from './record-holder.js';
import { fieldsStillOurs, forgetWritten, param, rememberWritten, writtenTo } from './written-values.js';

export interface TopicTarget {
  table: string;
  /** field → column (catalog names) */
  columns: Map<string, string>;
  key: [string, string][];
  writeBack: boolean;
  /** a merge topic: what the legacy does besides its row (merge-record.ts) */
  merge: MergeTarget | undefined;
  /** another service's rows, which a merge moves as the legacy's own change: written back, they follow merges (merge-record.ts) */
  followsMerges: MergeFollower | undefined;
}

export function targetsOf(tables: CapturedTable[]): Map<string, TopicTarget> {
  const targets = new Map<string, TopicTarget>();
  for (const t of tables) {
    const columns = new Map(t.plan.columns.filter((c) => !c.carried).map((c) => [c.field, c.column]));
    targets.set(t.mapping.topic, {
      table: `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`,
      columns,
      key: t.mapping.key.map((k) => [k, columns.get(k)!]),
      writeBack: t.mapping.writeBack,
      merge: t.mapping.merge && mergeTargetOf(t.mapping.merge, t, tables),
      followsMerges: undefined,
    });
  }
  for (const { merge } of targets.values()) {
    for (const move of merge?.moves ?? []) {
      const moved = [...targets.values()].find((t) => t.table === move.table)!;
      if (move.asLegacyChange) moved.followsMerges = { merge: merge!, column: move.column };
    }
  }
  return targets;
}

/** Claims the changes' positions where they are later than the last applied for their keys; answers the changes claimed, in their order. */
export async function claimPositions(client: pg.ClientBase, service: string, changes: ChangeEvent[]): Promise<ChangeEvent[]> {
  if (changes.length === 0) return [];
  // the canonical key text: one row keeps one position whatever the JSON type of its key values
  const keys = changes.map((c) => keyText(c.key));
  const { rows } = await client.query<{ topic: string; key: string }>(
    `INSERT INTO ficus_writeback_positions AS p (service, topic, key, position)
     SELECT $1, t, k, pos FROM unnest($2::text[], $3::text[], $4::text[]) AS c(t, k, pos)
     ON CONFLICT (service, topic, key) DO UPDATE SET position = excluded.position, applied_at = clock_timestamp()
      WHERE (length(p.position), p.position) < (length(excluded.position), excluded.position)
     RETURNING topic, key`,
    [service, changes.map((c) => c.topic), keys, changes.map((c) => c.source.position)],
  );
  const claimed = new Set(rows.map((r) => `${r.topic}\u0000${r.key}`));
  return changes.filter((c, i) => claimed.has(`${c.topic}\u0000${keys[i]!}`));
}

/**
 * Applies one event of `service`: a delete; an update of the columns the service changed (all
 * of them without a before image, and those its before image leaves out where the legacy still
 * holds what the writer last wrote: written-values.ts), less those the legacy changed meanwhile
 * while it holds the record (legacyKept); or, when the row is not there (made by the service
 * after the flip), an insert of the whole row, and for a merge what the legacy does besides.
 * Answers the fields left as the legacy has them.
 */
export async function applyEvent(client: pg.ClientBase, service: string, t: TopicTarget, change: ChangeEvent, holders?: RecordHolders): Promise<string[]> {
  const where = t.key.map(([, column], i) => `${quoteIdent(column)} = $${i + 1}`).join(' AND ');
  const keyValues = t.key.map(([field]) => change.key[field]);
  if (change.op === 'delete') {
    await client.query(`DELETE FROM ${t.table} WHERE ${where}`, keyValues);
    await forgetWritten(client, service, change);
    return [];
  }
  const e = t.merge ? await recordMerge(client, service, t.merge, where, keyValues, change) : change;
  const row = { client, service, t, e, where, keyValues };
  const kept = holders ? await legacyKept(row, holders) : [];
  await rememberWritten(client, service, e, await writeRow(row, kept));
  if (t.followsMerges) await followMerge(client, service, t.followsMerges, t.table, where, keyValues);
  return kept;
}

interface RowWrite {
  client: pg.ClientBase;
  service: string;
  t: TopicTarget;
  e: ChangeEvent;
  where: string;
  keyValues: unknown[];
}

const fieldsOf = (w: RowWrite) => Object.keys(w.e.after!).filter((f) => !w.t.key.some(([k]) => k === f));
/** the fields the change made, by its before image (all of them without one) */
const changedBy = (w: RowWrite, before: Readonly<Record<string, unknown>> | null) =>
  before ? fieldsOf(w).filter((f) => Object.hasOwn(before, f) && !sameJson(before[f], w.e.after![f])) : fieldsOf(w);

/**
 * The fields the change made whose legacy value (the row locked) is no longer the one its before
 * image names, when the legacy holds the record: a legacy edit the service had not seen when it
 * made the change, which the system of record's keeps (a save acknowledged by the legacy after a
 * rollback must not be undone by an older write-back still landing). While the service holds
 * the record none: its value is written, as the service keeps it. The store is asked only when
 * some field was changed meanwhile, after the row is locked.
 *
 * A field the change made that an earlier change had made too names the service's earlier
 * value in the before image, not the legacy's; where that earlier write-back never landed
 * (dead-lettered for good) the legacy holds what the writer last wrote there, which is no
 * legacy edit either (written-values.ts).
 */
async function legacyKept(w: RowWrite, holders: RecordHolders): Promise<string[]> {
  const before = w.e.op === 'update' ? w.e.before : null;
  const made = changedBy(w, before);
  if (!before || made.length === 0) return [];
  const written = (await writtenTo(w.client, w.service, w.e)) ?? {};
  const params: unknown[] = [...w.keyValues];
  const at = (v: unknown) => `$${params.push(param(v))}`;
  const tests = made.map((f, i) => {
    const c = quoteIdent(w.t.columns.get(f)!);
    const ours = Object.hasOwn(written, f) ? ` OR ${c} IS NOT DISTINCT FROM ${at(written[f])}` : '';
    return `(${c} IS NOT DISTINCT FROM ${at(before[f])}${ours}) AS "${i}"`;
  });
  const row = (await w.client.query<Record<string, boolean>>(`SELECT ${tests.join(', ')} FROM ${w.t.table} WHERE ${w.where} FOR UPDATE`, params)).rows[0];
  const edited = row ? made.filter((_, i) => !row[String(i)]) : [];
  if (edited.length === 0 || (await holders.of(w.service)) === 'service') return [];
  return edited;
}

/**
 * An update of the columns the service changed (all of them without a before image, and the
 * left-out ones still the writer's) but those `kept`, or an insert when the row is not there.
 * Answers the fields written.
 */
async function writeRow(w: RowWrite, kept: readonly string[]): Promise<string[]> {
  const { client, service, t, e, where, keyValues } = w;
  const fields = fieldsOf(w);
  const before = e.op === 'update' ? e.before : null;
  const unknown = before ? fields.filter((f) => !Object.hasOwn(before, f)) : [];
  const changed = changedBy(w, before).filter((f) => !kept.includes(f));
  changed.push(...(await fieldsStillOurs(client, service, e, t.columns, t.table, where, keyValues, unknown)));
  if (changed.length > 0) {
    const set = changed.map((f, i) => `${quoteIdent(t.columns.get(f)!)} = $${keyValues.length + i + 1}`).join(', ');
    const res = await client.query(`UPDATE ${t.table} SET ${set} WHERE ${where}`, [...keyValues, ...changed.map((f) => param(e.after![f]))]);
    if (res.rowCount! > 0) return changed;
  } else {
    const res = await client.query(`SELECT 1 FROM ${t.table} WHERE ${where}`, keyValues);
    if (res.rowCount! > 0) return [];
  }
  const values = fields.map((f) => param(e.after![f]));
  const columns = [...t.key.map(([, c]) => c), ...fields.map((f) => t.columns.get(f)!)];
  await client.query(
    `INSERT INTO ${t.table} (${columns.map(quoteIdent).join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
    [...keyValues, ...values],
  );
  return fields;
}

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
