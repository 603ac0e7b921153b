/**
 * The contract's dates and times are the hospital's wall-clock time without an offset
 * (`2024-07-01T10:30:00`, `1980-02-29`). These print a PostgreSQL column that way, in SQL with
 * to_char, so that neither the server's DateStyle nor the Node process's time zone can change
 * a byte (node-postgres would turn a TIMESTAMP into a JS Date in the process's zone), and store
 * an HL7 time in it. Every store that serves the contract from PostgreSQL uses them.
 */

/** a TIMESTAMP(0) column as 'YYYY-MM-DDTHH:MM:SS' (local hospital time, no offset) */
export const sqlTimestamp = (column: string) => `to_char(${column}, 'YYYY-MM-DD"T"HH24:MI:SS')`;

/** a DATE column as 'YYYY-MM-DD' */
export const sqlDate = (column: string) => `to_char(${column}, 'YYYY-MM-DD')`;

/**
 * SQL for a text parameter holding a `ParsedDateTime.timestamp` (or a change event's local
 * `YYYY-MM-DDTHH:MM:SS`) as TIMESTAMP(0) local time: a time sent with its UTC offset is turned
 * into the database's time zone (the hospital's, the same clock as LOCALTIMESTAMP); a time
 * without one is already local wall-clock time and is kept.
 */
export function localTimestamp(param: string): string {
  return `(CASE WHEN ${param}::text ~ '[+-][0-9]{2}:[0-9]{2}$' THEN ${param}::text::timestamptz::timestamp ELSE ${param}::text::timestamp END)::timestamp(0)`;
}

/** a LIKE pattern matching values that start with `prefix` (the contract's name search), its wildcards escaped */
export const likePrefix = (prefix: string) => prefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';
