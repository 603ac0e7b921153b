/**
 * SQL Server CDC rows (as the mssql driver answers them) to change events. Pure, tested
 * without a server.
 */
import { CHANGE_EVENT_SCHEMA_VERSION, type ChangeEvent, type Logger } from '@ficus/contracts';
import { topicChanges, type TopicChange } from '../mapping/key-change.js';
import { keyOf, type TablePlan } from '../mapping/table-plan.js';
import { compareChangeRows, lsnHex, mssqlPosition, opOf, type ChangeRowRef } from './lsn-window.js';
import { lobsNotGiven, type LobColumn } from './update-mask.js';

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/**
 * A value as the envelope wants it. The driver reads datetime/datetime2/smalldatetime as if they
 * were UTC (useUTC, its default), so their UTC fields are the stored local time; date is a
 * calendar date; decimal and bigint keep every digit as text; binary is \x hex.
 */
export function mssqlValue(v: unknown, type: string): unknown {
  if (v === null || v === undefined) return null;
  const t = type.toLowerCase();
  if (v instanceof Date) {
    const date = `${v.getUTCFullYear()}-${pad(v.getUTCMonth() + 1)}-${pad(v.getUTCDate())}`;
    if (t === 'date') return date;
    const time = `${pad(v.getUTCHours())}:${pad(v.getUTCMinutes())}:${pad(v.getUTCSeconds())}`;
    const ms = v.getUTCMilliseconds();
    const local = `${date}T${time}${ms ? `.${pad(ms, 3)}` : ''}`;
    return t === 'datetimeoffset' ? `${local}+00:00` : local;
  }
  if (Buffer.isBuffer(v)) return `\\x${v.toString('hex')}`;
  if (t === 'decimal' || t === 'numeric' || t === 'money' || t === 'smallmoney' || t === 'bigint') return String(v);
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return String(v);
}

export interface MssqlChangeRow {
  __$start_lsn: Buffer | string;
  __$seqval: Buffer | string;
  __$operation: number;
  /** the changed columns' bits (update-mask.ts); null or absent where not read */
  __$update_mask?: Buffer | null;
  [column: string]: unknown;
}

export interface MssqlRowContext {
  source: string;
  database: string;
  schema: string;
  table: string;
  /** the capture instance the row was read from (a table has two while its schema changes); unset: the table's one */
  captureInstance?: string;
  /** column name → SQL Server type name, from the result's metadata */
  types: Map<string, string>;
  /** commit time of the row's LSN (sys.fn_cdc_map_lsn_to_time), ISO, when known */
  commitTime: string | null;
  /** the table's large-object columns (update-mask.ts), by source column name; none when absent */
  lobs?: ReadonlyMap<string, LobColumn>;
}

/** `[name]`, a T-SQL quoted identifier. */
export const bracket = (s: string) => `[${s.replace(/]/g, ']]')}]`;

/**
 * The change rows of one capture instance in an LSN window (@from, @to: binary(10)). With
 * `all update old` an update is two rows, its old-row image (operation 3) and its new one (4):
 * without the old one, an update of the topic's key (an MRN renamed) was an update of the new
 * key alone, and the old key stayed in the services.
 *
 * Order within a transaction: the change table has had `__$command_id` since KB 3030352 (an
 * update's insert row could sort before its delete row), and its page now says to order by it,
 * not by `__$seqval`. The function does not return it: it gives `__$start_lsn`, `__$seqval`,
 * `__$operation`, `__$update_mask` and the captured columns (Debezium's function mode orders by
 * the same three as here; only its direct mode, reading the change table, has the command id).
 * Taken from the function, a split update's delete (1) and insert (2) share start LSN and seqval,
 * and the operation puts the delete first, which is what pairs them (eventsOfRows); rows of
 * several statements in one transaction follow seqval, their order in the log. What seqval does
 * not settle (a statement that split several rows) is left row by row, as eventsOfRows says.
 * Reading `cdc.<instance>_CT` for the command id was not done: Microsoft asks for the functions.
 */
export const changesQuery = (captureInstance: string) =>
  `SELECT * FROM cdc.${bracket(`fn_cdc_get_all_changes_${captureInstance}`)}(@from, @to, N'all update old') ORDER BY __$start_lsn, __$seqval, __$operation`;

function valuesOf(plan: TablePlan, row: MssqlChangeRow, ctx: MssqlRowContext): Record<string, unknown> {
  // an old-values row's NULL for a large value the update did not change is not its value: left out (update-mask.ts)
  const notGiven = lobsNotGiven(row.__$operation, row.__$update_mask, ctx.lobs);
  const values: Record<string, unknown> = {};
  for (const c of plan.columns) if (!notGiven.has(c.column)) values[c.field] = mssqlValue(row[c.column], ctx.types.get(c.column) ?? String(c.type));
  return values;
}

function eventOf(plan: TablePlan, c: TopicChange, row: MssqlChangeRow, ctx: MssqlRowContext): ChangeEvent {
  const startLsn = lsnHex(row.__$start_lsn);
  return {
    schemaVersion: CHANGE_EVENT_SCHEMA_VERSION,
    topic: plan.topic,
    op: c.op,
    key: c.key,
    before: c.before,
    after: c.after,
    ...c.moved,
    source: {
      system: 'mssql',
      name: ctx.source,
      database: ctx.database,
      schema: ctx.schema,
      table: ctx.table,
      // the row's own operation is part of it: the two events of a key change have two positions
      position: mssqlPosition(startLsn, lsnHex(row.__$seqval), row.__$operation),
      txId: startLsn,
      commitTime: ctx.commitTime,
      origin: null,
    },
  };
}

/** One change row on its own to an event; undefined for an old-row image (operation 3), which says nothing without its new one. */
export function eventOfRow(plan: TablePlan, row: MssqlChangeRow, ctx: MssqlRowContext): ChangeEvent | undefined {
  const op = opOf(row.__$operation);
  if (!op) return undefined;
  const values = valuesOf(plan, row, ctx);
  // a delete row carries the row as it was; insert and update rows the row as it is now
  return eventOf(plan, { op, key: keyOf(plan, values), before: op === 'delete' ? values : null, after: op === 'delete' ? null : values, moved: {} }, row, ctx);
}

export interface ReadChangeRow {
  row: MssqlChangeRow;
  plan: TablePlan;
  ctx: MssqlRowContext;
}

export class UnpairedUpdateError extends Error {
  override readonly name = 'UnpairedUpdateError';
}

/** The operation that completes an old-row image into one update: 3 → 4, and 1 → 2 (an update SQL Server logged as a delete and an insert, see below). */
const AFTER_OF: Partial<Record<number, number>> = { 3: 4, 1: 2 };

const refOf = (row: MssqlChangeRow): ChangeRowRef => ({ startLsn: lsnHex(row.__$start_lsn), seqval: lsnHex(row.__$seqval), operation: row.__$operation });

/** Rows of one statement's change of one row: one table's, one capture instance's (two instances of a table each hold the change), one start LSN and seqval. */
const groupOf = (r: ReadChangeRow & { ref: ChangeRowRef }) => `${r.ctx.schema}\u0000${r.ctx.table}\u0000${r.ctx.captureInstance ?? ''}\u0000${r.ref.startLsn}\u0000${r.ref.seqval}`;

/**
 * The change rows of one window (every capture instance's) to events, in the order they
 * happened. Rows of one table with one start LSN and one seqval are one statement's change of
 * one row: an old-row image (3) and its new one (4), or a delete (1) and an insert (2) where
 * SQL Server logged an update of a column in a unique index as a "split update" (Microsoft
 * documents both shapes, and that the two rows share __$start_lsn and __$seqval). Such a pair
 * is one update, with its old row as `before` (as PostgreSQL's REPLICA IDENTITY FULL gives);
 * when the key differs, the delete(movedTo) and create(movedFrom) a key change is
 * (mapping/key-change.ts), at the old row's position and the new row's. Any larger group (a
 * statement that split several rows shares one seqval among them: which delete became which
 * insert, or which old-row image which new one, is not known) goes row by row, as before the
 * pairing: a delete and an insert each as itself, a new-row image (4) an update without its
 * old row, an old-row image (3) dropped, with a warning (no values) when one is. Stopping the
 * source there would stop it for good: the next read of the window is the same group.
 *
 * The window cannot split a pair: every row of a transaction has its commit LSN as
 * __$start_lsn, and the window takes whole start LSNs. An old-row image (3) without its new
 * one, in a group of its own or of two, is therefore not a change to guess at: it stops the
 * source (UnpairedUpdateError), nothing of the window acknowledged, loud in /api/cdc/status.
 */
export function eventsOfRows(read: readonly ReadChangeRow[], log?: Pick<Logger, 'warn'>): ChangeEvent[] {
  const sorted = read.map((r) => ({ ...r, ref: refOf(r.row) })).sort((a, b) => compareChangeRows(a.ref, b.ref));
  const groups = new Map<string, typeof sorted>();
  for (const r of sorted) {
    const id = groupOf(r);
    const g = groups.get(id);
    if (g) g.push(r);
    else groups.set(id, [r]);
  }
  const out: ChangeEvent[] = [];
  for (const g of groups.values()) {
    const [old, now] = g;
    if (g.length === 2 && AFTER_OF[old!.ref.operation] === now!.ref.operation) {
      const changes = topicChanges(old!.plan, 'update', valuesOf(old!.plan, old!.row, old!.ctx), valuesOf(now!.plan, now!.row, now!.ctx));
      // a key change: its delete at the old row's position, its create at the new row's; an update at the new row's
      const rows = changes.length === 2 ? [old!, now!] : [now!];
      changes.forEach((c, i) => out.push(eventOf(rows[i]!.plan, c, rows[i]!.row, rows[i]!.ctx)));
      continue;
    }
    if (g.length > 2) {
      const oldImages = g.filter((r) => r.ref.operation === 3).length;
      if (oldImages > 0) {
        const { ctx, ref } = g[0]!;
        log?.warn(
          { source: ctx.source, schema: ctx.schema, table: ctx.table, captureInstance: ctx.captureInstance, position: `${ref.startLsn}/${ref.seqval}`, rows: g.length, oldImages, operations: g.map((r) => r.ref.operation) },
          'SQL Server CDC: one statement changed several rows under one seqval, so which old-row image belongs to which new one is not known: each new-row image passed on as an update without its old row, the old-row images dropped (a key changed there reaches the services as an update of the new key only)',
        );
      }
      for (const r of g) {
        const e = eventOfRow(r.plan, r.row, r.ctx);
        if (e) out.push(e);
      }
      continue;
    }
    for (const r of g) {
      if (r.ref.operation === 3) {
        throw new UnpairedUpdateError(
          `SQL Server CDC: table ${r.ctx.schema}.${r.ctx.table} has an update at ${mssqlPosition(r.ref.startLsn, r.ref.seqval, 3)} whose old-row image (operation 3) came without its new-row image (operation 4) in the window read: ` +
            'not passed on, and nothing past it (the source stops here and tries the window again)',
        );
      }
      const e = eventOfRow(r.plan, r.row, r.ctx);
      if (e) out.push(e);
    }
  }
  return out;
}
