/**
 * The replication slot of a PostgreSQL source: its row (whether a reader holds it, which
 * database it belongs to, how far it is confirmed), its creation over the replication
 * connection (exporting a snapshot of its start when one is to be taken), its drop, and the
 * WAL it holds back.
 */
import type pg from 'pg';
import { FatalSourceError } from './change-decoder.js';
import { quoteIdent, type ReplicationConnection } from './replication-connection.js';

export interface SlotRow {
  active: boolean;
  active_pid: number | null;
  confirmed_flush_lsn: string | null;
  /** 'lost': the server removed WAL the slot still needed (max_slot_wal_keep_size); it can never be read again */
  wal_status: string | null;
  /** PostgreSQL 17+: why the server invalidated the slot (older servers: null, wal_status tells) */
  invalidation_reason: string | null;
}

/** The slot's row (undefined: there is none); a slot of another database is refused, as no reader of this one may use it. */
export async function readSlot(pool: pg.Pool, slot: string, database: string): Promise<SlotRow | undefined> {
  // invalidation_reason through to_jsonb: the column exists only from PostgreSQL 17 on
  const { rows } = await pool.query<SlotRow & { database: string | null }>(
    `SELECT active, active_pid, confirmed_flush_lsn::text, database, wal_status, to_jsonb(s) ->> 'invalidation_reason' AS invalidation_reason
       FROM pg_replication_slots s WHERE slot_name = $1`,
    [slot],
  );
  const r = rows[0];
  if (r && r.database !== database) throw new FatalSourceError(`replication slot ${slot} belongs to database ${r.database ?? '(physical)'}, not ${database}: set CDC_SLOT to another name`);
  return r;
}

/**
 * Why the server invalidated the slot, undefined while it is usable. An invalidated slot is
 * refused by every START_REPLICATION (55000, "cannot read from logical replication slot" on 15,
 * "can no longer get changes from replication slot" on 16+): retrying cannot mend it.
 */
export function slotInvalidation(r: SlotRow): string | undefined {
  if (r.invalidation_reason) return r.invalidation_reason === 'wal_removed' ? 'it exceeded max_slot_wal_keep_size' : `reason ${r.invalidation_reason}`;
  if (r.wal_status === 'lost') return 'it exceeded max_slot_wal_keep_size';
  return undefined;
}

/** The stop of a source whose slot the server invalidated: the WAL it needed is gone, so only a new snapshot recovers. */
export function invalidatedSlotError(slot: string, why: string): FatalSourceError {
  return new FatalSourceError(
    `replication slot ${slot} was invalidated by the server (${why}): the changes it held back are lost. ` +
      'Restart with CDC_RESNAPSHOT=true to take a new snapshot',
  );
}

export interface CreatedSlot {
  consistent_point: string;
  /** set when the snapshot was exported */
  snapshot_name: string | null;
}

/** Creates the slot (pgoutput); `exportSnapshot`: the server exports a snapshot of the slot's start, usable while this connection waits. */
export async function createSlot(conn: ReplicationConnection, slot: string, exportSnapshot: boolean): Promise<CreatedSlot> {
  const exportIt = exportSnapshot ? 'EXPORT_SNAPSHOT' : 'NOEXPORT_SNAPSHOT';
  const [created] = await conn.command<{ consistent_point: string; snapshot_name: string | null }>(`CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput ${exportIt}`);
  return created!;
}

export async function dropSlot(pool: pg.Pool, slot: string): Promise<void> {
  await pool.query('SELECT pg_drop_replication_slot($1)', [slot]);
}

/** Bytes of WAL the slot holds beyond what is acknowledged (null when unknown). */
export async function heldWalBytes(pool: pg.Pool, slot: string): Promise<number | null> {
  try {
    const { rows } = await pool.query<{ lag: string | null }>(
      'SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint AS lag FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    return rows[0]?.lag == null ? null : Math.max(0, Number(rows[0].lag));
  } catch {
    return null;
  }
}
