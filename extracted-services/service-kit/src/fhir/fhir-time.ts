/**
 * How the legacy contract prints dates: formatted in SQL with to_char, so that neither the
 * server's DateStyle nor the Node process's time zone can change a byte.
 */

/** a TIMESTAMP(0) column as 'YYYY-MM-DDTHH:MM:SS' (local hospital time, no offset) */
export const sqlTimestamp = (column: string) => `to_char(${column}, 'YYYY-MM-DD"T"HH24:MI:SS')`;

/** a DATE column as 'YYYY-MM-DD' */
export const sqlDate = (column: string) => `to_char(${column}, 'YYYY-MM-DD')`;

/**
 * A local TIMESTAMP column as a FHIR dateTime/instant: the hospital's wall-clock time with its
 * UTC offset (the database's TimeZone is the hospital's), `2024-07-01T10:30:00+02:00`.
 */
export const sqlFhirDateTime = (column: string) => `to_char(${column}::timestamptz, 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM')`;

/**
 * SQL for a text parameter holding a `ParsedDateTime.timestamp` (or a change event's local
 * `YYYY-MM-DDTHH:MM:SS`) as TIMESTAMP(0) local time: with an offset it is converted to the
 * database's time zone (the hospital's), without one it is already local and kept.
 */
export function localTimestamp(param: string): string {
  return `(CASE WHEN ${param}::text ~ '[+-][0-9]{2}:[0-9]{2}$' THEN ${param}::text::timestamptz::timestamp ELSE ${param}::text::timestamp END)::timestamp(0)`;
}
