/**
 * What a PostgreSQL error means to a consumer that applies changes: the database is not there
 * now (wait, in place, for as long as it takes: a dead letter would not mend an outage), it
 * refuses the data (no retry mends it), or it refuses a row whose parent has not arrived yet
 * (a foreign key: usually the parent is still on its way through another partition or queue).
 */

/** the SQLSTATE of a database error, or undefined for anything else */
export function sqlState(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** node's socket errors that mean the server is not reachable now */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);

/** node-postgres's own words for a connection that went or never came (they carry no code) */
const DRIVER_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is not queryable|connection to the server was lost/i;

/**
 * The database cannot take the work now, though the work is right: connection failures (class
 * 08), an administrator's shutdown or a server starting (57P01-57P03), a database not accepting
 * connections (55000 from the server's CheckMyDatabase), too many connections, disk or memory (class 53), a
 * serialization failure or a deadlock (40001, 40P01: isSessionConflict, retried in place the same
 * way though the database answered; log it as that), a lock not granted in time (55P03), a
 * statement cancelled by its timeout (57014), a standby that cannot write (25006, during a
 * failover), or the socket itself.
 */
export function isUnavailable(e: unknown): boolean {
  const state = sqlState(e);
  if (state) {
    if (state.startsWith('08') || state.startsWith('53')) return true;
    if (['57P01', '57P02', '57P03', '40001', '40P01', '55P03', '57014', '25006'].includes(state)) return true;
    // the server's function name, not its words: a server whose lc_messages is not English says it otherwise
    return state === '55000' && ((e as { routine?: unknown }).routine === 'CheckMyDatabase' || /not currently accepting connections/i.test(String((e as Error).message)));
  }
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  return DRIVER_MESSAGES.test(String((e as Error | null)?.message ?? ''));
}

/**
 * PostgreSQL aborted the transaction for another session's (40P01 deadlock, 40001 serialization
 * failure): the database is there, and the next try goes on. Logged as such, never as an outage.
 */
export const isSessionConflict = (e: unknown) => ['40P01', '40001'].includes(sqlState(e) ?? '');

/** a foreign key refused the row (23503): its parent is not there, or, on a delete, a child still is */
export const isForeignKeyRefusal = (e: unknown) => sqlState(e) === '23503';

/**
 * The data is refused and no retry mends it: a data exception (class 22: a value too long, out
 * of range, of the wrong form) or an integrity rule (class 23: a check, not-null or unique
 * constraint), except a foreign key, which may mend once the parent arrives.
 */
export function isDataRefusal(e: unknown): boolean {
  const state = sqlState(e);
  return state !== undefined && (state.startsWith('22') || state.startsWith('23')) && state !== '23503';
}

/**
 * The database's reason without the row's values: a data exception's message quotes the value
 * it refused (`invalid input syntax for type integer: "…"`, `value "…" is out of range`), so
 * its quoted parts are withheld; an integrity error's message names only schema (relation,
 * constraint, column). Then the SQLSTATE, and the table, column and constraint the error names
 * where the message does not already.
 */
export function reasonWithoutValues(e: unknown): string {
  const err = e as Error & { code?: string; constraint?: string; table?: string; column?: string };
  const state = sqlState(e);
  let message = String(err?.message ?? e);
  if (state?.startsWith('22')) message = message.replace(/"(?:[^"]|"")*"/g, '"…"');
  const names = (
    [
      ['table', err?.table],
      ['column', err?.column],
      ['constraint', err?.constraint],
    ] as const
  ).filter(([, v]) => typeof v === 'string' && v !== '' && !message.includes(`"${v}"`));
  return `${message}${state ? ` (${state})` : ''}${names.map(([k, v]) => `, ${k} ${v}`).join('')}`;
}
