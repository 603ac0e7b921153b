/**
 * SQL Server CDC: which LSN window to read next, and how change rows become ordered changes.
 * Pure functions, so that the logic is proven without a server (none runs on these machines).
 *
 * LSNs are binary(10): here as 20 upper-case hex digits, which sort as the LSNs do.
 */

export const LSN_HEX_DIGITS = 20;

export function lsnHex(b: Buffer | string): string {
  const hex = typeof b === 'string' ? b.replace(/^0x/i, '') : b.toString('hex');
  if (!/^[0-9A-Fa-f]{1,20}$/.test(hex)) throw new Error(`not an LSN: ${String(b)}`);
  return hex.toUpperCase().padStart(LSN_HEX_DIGITS, '0');
}

export function lsnBuffer(hex: string): Buffer {
  return Buffer.from(lsnHex(hex), 'hex');
}

export const compareLsn = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The next LSN (sys.fn_cdc_increment_lsn, without a round trip). */
export function incrementLsn(hex: string): string {
  const n = BigInt(`0x${lsnHex(hex)}`) + 1n;
  if (n >= 1n << 80n) throw new Error('LSN overflow');
  return n.toString(16).toUpperCase().padStart(LSN_HEX_DIGITS, '0');
}

const ZERO = '0'.repeat(LSN_HEX_DIGITS);

export class LsnBelowMinimumError extends Error {
  override readonly name = 'LsnBelowMinimumError';
}

export type Window = { kind: 'idle' } | { kind: 'read'; from: string; to: string };

/**
 * The window to read for one capture instance: from just after the stored LSN (or from the
 * instance's first LSN when nothing is stored) up to the database's current maximum. A stored
 * LSN below the instance's minimum means the cleanup job removed changes that were never read:
 * a loud error that asks for a new snapshot, never a silent jump.
 */
export function nextWindow(w: { captureInstance: string; stored: string | null; minLsn: string | null; maxLsn: string | null }): Window {
  const max = w.maxLsn ? lsnHex(w.maxLsn) : ZERO;
  const min = w.minLsn ? lsnHex(w.minLsn) : ZERO;
  if (max === ZERO || min === ZERO) return { kind: 'idle' }; // the capture job has not run yet, or CDC is off for the instance
  if (w.stored !== null && compareLsn(lsnHex(w.stored), min) < 0) {
    throw new LsnBelowMinimumError(
      `SQL Server CDC: the stored LSN ${lsnHex(w.stored)} is below the minimum LSN ${min} of capture instance ${w.captureInstance}: ` +
        'the cleanup job removed changes that were never read. Take a new snapshot (CDC_RESNAPSHOT=true)',
    );
  }
  const from = w.stored === null ? min : incrementLsn(w.stored);
  if (compareLsn(from, max) > 0) return { kind: 'idle' };
  return { kind: 'read', from, to: max };
}

/** __$operation: 1 delete, 2 insert, 3 update (before), 4 update (after); 3 is not read (the window asks for 'all', not 'all update old'). */
export function opOf(operation: number): 'delete' | 'create' | 'update' | undefined {
  switch (operation) {
    case 1:
      return 'delete';
    case 2:
      return 'create';
    case 4:
      return 'update';
    default:
      return undefined;
  }
}

/** The envelope's SQL Server position: `<start LSN 20 hex>/<seqval 20 hex>/<operation 1 hex>`. */
export function mssqlPosition(startLsn: string, seqval: string, operation: number): string {
  return `${lsnHex(startLsn)}/${lsnHex(seqval)}/${operation.toString(16).toUpperCase()}`;
}

export interface ChangeRowRef {
  startLsn: string;
  seqval: string;
  operation: number;
}

/** Orders the change rows of several tables as they happened: start LSN, then seqval, then operation. */
export function compareChangeRows(a: ChangeRowRef, b: ChangeRowRef): number {
  return compareLsn(lsnHex(a.startLsn), lsnHex(b.startLsn)) || compareLsn(lsnHex(a.seqval), lsnHex(b.seqval)) || a.operation - b.operation;
}
