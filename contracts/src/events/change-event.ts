/**
 * The change-event envelope: one row change of a source database (the legacy database through
 * CDC, or a new service's outbox), the same for every source and every consumer.
 *
 * Versioned: `schemaVersion` says which shape this is. A consumer refuses (dead-letters) an
 * envelope of a version it does not know rather than guess.
 *
 * Values are JSON: text as strings; integers that fit as numbers, bigint and numeric as
 * strings (no precision lost); booleans; dates as `YYYY-MM-DD`; timestamps without a zone as
 * `YYYY-MM-DDTHH:MM:SS[.ffffff]` (local time of the source, as it stored them); timestamps
 * with a zone as ISO 8601 with the offset; binary as `\x`-prefixed hex. Column names are the
 * topic's names (after the mapping's renames), never the legacy ones.
 */
import { Type, type Static } from '@sinclair/typebox';
import { schemaCheck } from './schema-check.js';

export const CHANGE_EVENT_SCHEMA_VERSION = 1;

/** create, update, delete, and snapshot (a row read by the initial snapshot, not a change) */
export const CHANGE_OPS = ['create', 'update', 'delete', 'snapshot'] as const;
export type ChangeOp = (typeof CHANGE_OPS)[number];

const Row = Type.Record(Type.String(), Type.Unknown());

export const ChangeSourceSchema = Type.Object(
  {
    /** what produced it: a PostgreSQL logical replication slot, SQL Server CDC, a service's outbox */
    system: Type.Unsafe<'postgres' | 'mssql' | 'outbox'>({ type: 'string', enum: ['postgres', 'mssql', 'outbox'] }),
    /** the configured source name (`legacy-pg`); positions compare only within one source */
    name: Type.String({ minLength: 1 }),
    database: Type.String(),
    schema: Type.Union([Type.String(), Type.Null()]),
    table: Type.String({ minLength: 1 }),
    /**
     * Where the change sits in the source's history, as a string that sorts in that order
     * (fixed-width hexadecimal parts): PostgreSQL `<commit LSN, 16 hex>/<index in the
     * transaction, 8 hex>`; SQL Server `<start LSN, 20 hex>/<seqval, 20 hex>/<operation, 1 hex>`;
     * an outbox its sequence number, 20 decimal digits.
     */
    position: Type.String({ minLength: 1 }),
    txId: Type.Union([Type.String(), Type.Null()]),
    /** when the source committed the change (ISO 8601 with offset), null when unknown */
    commitTime: Type.Union([Type.String(), Type.Null()]),
    /** written by Ficus itself (write-back to legacy): consumers that fed it must not apply it again */
    origin: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);

export const ChangeEventSchema = Type.Object(
  {
    schemaVersion: Type.Literal(CHANGE_EVENT_SCHEMA_VERSION),
    /** the mapping's topic (`patients`, `admissions`, `lab-results`) */
    topic: Type.String({ minLength: 1 }),
    op: Type.Unsafe<ChangeOp>({ type: 'string', enum: [...CHANGE_OPS] }),
    /** the row's key columns and values (topic names) */
    key: Row,
    /**
     * the row before the change: on update and delete when the source has it, else null. An
     * outbox's update may leave out a field whose legacy value the service does not know (an
     * earlier write-back of it not seen to land): the legacy writer writes it where the legacy
     * still holds what the writer last wrote there. A CDC update may leave out a field the
     * change did not change and whose old value the source does not give (SQL Server: a
     * large-object column, varchar(max) and the like, an update did not touch): its value
     * before is the one in `after`, and a consumer merging by fields takes it as not changed.
     */
    before: Type.Union([Row, Type.Null()]),
    /** the row after the change: on create, update and snapshot; null on delete */
    after: Type.Union([Row, Type.Null()]),
    /**
     * On a delete: the row is not gone, its key changed to this one (one update at the source,
     * e.g. an MRN renamed on a legacy screen); the create of the new key carries `movedFrom`.
     * Unset where nothing moved, or where the source cannot tell (SQL Server: one statement that
     * logged several rows' updates as deletes and inserts under one seqval).
     */
    movedTo: Type.Optional(Row),
    /** On a create: the row had this key before (the delete of it carries `movedTo`). */
    movedFrom: Type.Optional(Row),
    source: ChangeSourceSchema,
  },
  { additionalProperties: false },
);

export type ChangeSource = Static<typeof ChangeSourceSchema>;
export type ChangeEvent = Static<typeof ChangeEventSchema>;

/** A queue job: many change events of one partition, in source order. */
export interface ChangeBatch {
  schemaVersion: typeof CHANGE_EVENT_SCHEMA_VERSION;
  events: ChangeEvent[];
  /**
   * A heartbeat job carries no events and this: the CDC reader had read, and enqueued ahead of
   * this job, every change its source committed before `at`. A consumer that reaches it is
   * caught up to `at` on this partition. A consumer that does not know the field sees an empty
   * batch and applies nothing, so versions need not match.
   */
  heartbeat?: FeedHeartbeat;
  /**
   * A snapshot's end carries no events and this: every row the table(s) of `topic` held at the
   * source's `position` (a snapshot's consistent point) was enqueued, as `snapshot` events, ahead
   * of this job on this partition. The CDC sends one to every partition of the topic; a consumer
   * that has seen it on all `partitions` has every row the source had at `position`, so a row
   * of the topic from that source whose last change is older than `position` is no longer in
   * the source (deleted while its changes were lost). An older consumer sees an empty batch and
   * applies nothing, as with a heartbeat.
   */
  snapshotEnd?: SnapshotEnd;
}

export interface SnapshotEnd {
  /** the CDC source's name (the events' `source.name`) */
  source: string;
  topic: string;
  /** the snapshot's position: that of its `snapshot` events */
  position: string;
  /** how many partitions the topic's markers went to (the producer's partition count) */
  partitions: number;
}

/** The snapshot end a batch carries, or undefined when it is not one (events, or a malformed marker). */
export function snapshotEndOf(batch: ChangeBatch): SnapshotEnd | undefined {
  const m = batch.snapshotEnd;
  if (batch.events.length > 0 || typeof m !== 'object' || m === null) return undefined;
  const ok = typeof m.source === 'string' && m.source !== '' && typeof m.topic === 'string' && typeof m.position === 'string' && m.position !== '' && Number.isInteger(m.partitions) && m.partitions > 0;
  return ok ? { source: m.source, topic: m.topic, position: m.position, partitions: m.partitions } : undefined;
}

export interface FeedHeartbeat {
  /** the CDC source's name */
  source: string;
  /** ISO 8601: caught up to this time (the CDC reader's clock) */
  at: string;
}

/** The time a heartbeat batch says its partition is caught up to (ms), or undefined when it is not one. */
export function heartbeatTime(batch: ChangeBatch): number | undefined {
  if (batch.events.length > 0 || typeof batch.heartbeat?.at !== 'string') return undefined;
  const at = Date.parse(batch.heartbeat.at);
  return Number.isFinite(at) ? at : undefined;
}

const schemaProblem = schemaCheck(ChangeEventSchema, 'a change event');

/** Why a value is not a change event of this version, or undefined when it is one. */
export function changeEventProblem(value: unknown): string | undefined {
  const problem = schemaProblem(value);
  if (problem) return problem;
  const e = value as ChangeEvent;
  // a key change names the other key: only a delete says where it went, only a create where it came from
  if (e.movedTo !== undefined && e.op !== 'delete') return `/movedTo: only a delete moves to another key, not a ${e.op}`;
  if (e.movedFrom !== undefined && e.op !== 'create') return `/movedFrom: only a create moves from another key, not a ${e.op}`;
  const moved = e.movedTo ?? e.movedFrom;
  const columns = (k: Record<string, unknown>) => Object.keys(k).sort().join('\u0000');
  if (moved !== undefined && columns(moved) !== columns(e.key)) return `/${e.movedTo ? 'movedTo' : 'movedFrom'}: not of the key's columns`;
  return undefined;
}

/**
 * A stable text form of a key (its columns sorted), to compare, fold, partition and store keys
 * by: a row's identity. Every scalar value is taken as its text (`1` and `"1"` are one key),
 * because the envelope's JSON type follows the column's type (int4 a number, int8 a string):
 * a DBA's `ALTER … TYPE bigint` must not turn one row into two, with its changes in two
 * partitions and two positions, where an older change could land after a newer one.
 * Positions stored before 2026-12 used the typed form; migrations/change-consumer/003 and
 * migrations/cdc-writeback/002 carry them over. null stays null; objects and arrays (json key
 * columns) stay as they are.
 */
export function keyText(key: Record<string, unknown>): string {
  return JSON.stringify(Object.keys(key).sort().map((k) => [k, keyValueText(key[k])]));
}

function keyValueText(v: unknown): unknown {
  return typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' ? String(v) : v;
}

/** Orders positions of one source: negative, zero or positive as `a` is before, at or after `b`. */
export function comparePositions(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length; // same format, wider means later
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The last change of each key, in the order of the last changes: what a consumer that applies
 * whole rows needs to apply. Events must be of one topic and one source.
 */
export function lastChangePerKey(events: readonly ChangeEvent[]): ChangeEvent[] {
  const last = new Map<string, ChangeEvent>();
  for (const e of events) {
    const k = keyText(e.key);
    const seen = last.get(k);
    if (!seen || comparePositions(e.source.position, seen.source.position) > 0) {
      last.delete(k); // re-insert, so the map's order is the order of the last changes
      last.set(k, e);
    }
  }
  return [...last.values()].sort((a, b) => comparePositions(a.source.position, b.source.position));
}

/**
 * The last change of each key as `lastChangePerKey` gives it, except that where every change of
 * the key in `events` is an update with a before image, its `before` is the first one's: the
 * net change from the state before the batch to its last state, so that a consumer merging by
 * the fields that changed sees every field the batch changed, not only the last change's.
 */
export function netChangePerKey(events: readonly ChangeEvent[]): ChangeEvent[] {
  const first = new Map<string, ChangeEvent>();
  const spans = new Map<string, boolean>();
  for (const e of events) {
    const k = keyText(e.key);
    if (!first.has(k) || comparePositions(e.source.position, first.get(k)!.source.position) < 0) first.set(k, e);
    spans.set(k, (spans.get(k) ?? true) && e.op === 'update' && e.before !== null);
  }
  return lastChangePerKey(events).map((e) => {
    const k = keyText(e.key);
    const start = first.get(k)!;
    if (start === e || !spans.get(k)) return e;
    // a CDC before image's missing field was not changed by the first change: its value before
    // the batch is the one that change's after holds (an outbox's missing field is not known, and stays so)
    return { ...e, before: start.source.system === 'outbox' ? start.before : { ...start.after, ...start.before } };
  });
}
