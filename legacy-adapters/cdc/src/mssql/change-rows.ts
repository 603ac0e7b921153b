/**
 * SQL Server CDC rows (as the mssql driver answers them) to change events. Pure, tested
 * without a server.
 */
import { CHANGE_EVENT_SCHEMA_VERSION, type ChangeEvent } from '@ficus/contracts';
import { keyOf, type TablePlan } from '../mapping/table-plan.js';
import { lsnHex, mssqlPosition, opOf } from './lsn-window.js';

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
  [column: string]: unknown;
}

export interface MssqlRowContext {
  source: string;
  database: string;
  schema: string;
  table: string;
  /** column name → SQL Server type name, from the result's metadata */
  types: Map<string, string>;
  /** commit time of the row's LSN (sys.fn_cdc_map_lsn_to_time), ISO, when known */
  commitTime: string | null;
}

/** One change row to an event; undefined for rows that are not changes (operation 3). */
export function eventOfRow(plan: TablePlan, row: MssqlChangeRow, ctx: MssqlRowContext): ChangeEvent | undefined {
  const op = opOf(row.__$operation);
  if (!op) return undefined;
  const values: Record<string, unknown> = {};
  for (const c of plan.columns) values[c.field] = mssqlValue(row[c.column], ctx.types.get(c.column) ?? String(c.type));
  const startLsn = lsnHex(row.__$start_lsn);
  return {
    schemaVersion: CHANGE_EVENT_SCHEMA_VERSION,
    topic: plan.topic,
    op,
    key: keyOf(plan, values),
    // a delete row carries the row as it was; insert and update rows the row as it is now
    before: op === 'delete' ? values : null,
    after: op === 'delete' ? null : values,
    source: {
      system: 'mssql',
      name: ctx.source,
      database: ctx.database,
      schema: ctx.schema,
      table: ctx.table,
      position: mssqlPosition(startLsn, lsnHex(row.__$seqval), row.__$operation),
      txId: startLsn,
      commitTime: ctx.commitTime,
      origin: null,
    },
  };
}
