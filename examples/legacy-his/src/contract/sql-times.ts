/**
 * How the legacy API prints the database's dates. Formatting happens in SQL with to_char, so
 * it depends neither on the server's DateStyle nor on the time zone of the Node process
 * (node-postgres would turn a TIMESTAMP into a JS Date in the process's local zone).
 */

/** a TIMESTAMP(0) column as 'YYYY-MM-DDTHH:MM:SS' (local hospital time, no offset) */
export const sqlTimestamp = (column: string) => `to_char(${column}, 'YYYY-MM-DD"T"HH24:MI:SS')`;

/** a DATE column as 'YYYY-MM-DD' */
export const sqlDate = (column: string) => `to_char(${column}, 'YYYY-MM-DD')`;
