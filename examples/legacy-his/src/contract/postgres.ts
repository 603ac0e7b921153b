/**
 * The contract as a PostgreSQL store keeps it, whatever its tables: how its dates print, how
 * its name search matches, and its rule that a write which changes nothing writes nothing. The
 * stand-in and every service that serves the contract from PostgreSQL use these.
 */
import type { PatientSearch } from './patient-routes.js';

/*
 * The contract's dates and times are the hospital's wall-clock time without an offset
 * (`2024-07-01T10:30:00`, `1980-02-29`), printed in SQL with to_char, so that neither the
 * server's DateStyle nor the Node process's time zone can change a byte (node-postgres would
 * turn a TIMESTAMP into a JS Date in the process's zone).
 */

/*
 * PostgreSQL also keeps values a legacy screen or an old import may have written, which to_char
 * alone prints as null (`infinity`: an open stay, for a discharged one) or as another day (a
 * year BC as the same year AD). They are printed as PostgreSQL's ISO text writes them, as the
 * CDC's change events carry them: `infinity`, `-infinity`, `0044-03-15 BC`; a year after 9999
 * has its five digits (`10000-01-01`).
 */
const legacyTemporal = (column: string, pattern: string) =>
  `(CASE WHEN NOT isfinite(${column}) THEN ${column}::text WHEN ${column} < '0001-01-01' THEN to_char(${column}, '${pattern} BC') ELSE to_char(${column}, '${pattern}') END)`;

/** a TIMESTAMP(0) column as 'YYYY-MM-DDTHH:MM:SS' (local hospital time, no offset) */
export const sqlTimestamp = (column: string) => legacyTemporal(column, 'YYYY-MM-DD"T"HH24:MI:SS');

/** a DATE column as 'YYYY-MM-DD' */
export const sqlDate = (column: string) => legacyTemporal(column, 'YYYY-MM-DD');

/**
 * SQL for a text parameter holding a `ParsedDateTime.timestamp` (or a change event's local
 * `YYYY-MM-DDTHH:MM:SS`) as TIMESTAMP(0) local time: a time sent with its UTC offset is turned
 * into the database's time zone (the hospital's, the same clock as LOCALTIMESTAMP); a time
 * without one is already local wall-clock time and is kept.
 */
export function localTimestamp(param: string): string {
  return `(CASE WHEN ${param}::text ~ '[+-][0-9]{2}:[0-9]{2}$' THEN ${param}::text::timestamptz::timestamp ELSE ${param}::text::timestamp END)::timestamp(0)`;
}

/** a LIKE pattern matching values that start with `prefix`, its wildcards escaped */
export const likePrefix = (prefix: string) => prefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';

/**
 * The patient search's conditions over a store's columns: the names by prefix (compared in
 * byte order, as the columns' "C" collation does), the birth date exactly. `filter` is empty
 * or a WHERE clause; `values` are its parameters, from $1.
 */
export function patientSearchFilter(q: PatientSearch, columns: { lastName: string; firstName: string; dateOfBirth: string }): { filter: string; values: unknown[] } {
  const where: string[] = [];
  const values: unknown[] = [];
  const add = (condition: (param: string) => string, value: unknown) => {
    values.push(value);
    where.push(condition(`$${values.length}`));
  };
  if (q.lastNamePrefix) add((p) => `${columns.lastName} LIKE ${p}`, likePrefix(q.lastNamePrefix));
  if (q.firstNamePrefix) add((p) => `${columns.firstName} LIKE ${p}`, likePrefix(q.firstNamePrefix));
  if (q.dob) add((p) => `${columns.dateOfBirth} = ${p}::date`, q.dob);
  return { filter: where.length > 0 ? `WHERE ${where.join(' AND ')}` : '', values };
}

/** SQL for a parameter as a type: `sqlCast('date')('$3')` is `$3::date` */
export const sqlCast = (type: string) => (param: string) => `${param}::${type}`;

/** A column a write sets: its new value, and its SQL for the parameter that holds the value. */
export interface ColumnWrite {
  column: string;
  sql: (param: string) => string;
  value: unknown;
}

/**
 * The SET list of an UPDATE and the condition that it changes something, with the values as
 * parameters numbered from `firstParam`. With `changes` in its WHERE clause, an update that
 * changes nothing writes nothing: the row's last-update time and user, and so the ETag, stay
 * as they were, as the contract says.
 */
export function changingWrite(writes: readonly ColumnWrite[], firstParam: number): { set: string; changes: string; values: unknown[] } {
  const params = writes.map((w, i) => w.sql(`$${firstParam + i}`));
  return {
    set: writes.map((w, i) => `${w.column} = ${params[i]}`).join(', '),
    changes: `ROW(${writes.map((w) => w.column).join(', ')}) IS DISTINCT FROM ROW(${params.join(', ')})`,
    values: writes.map((w) => w.value),
  };
}

/** An INSERT's column list and VALUES list for the writes, parameters numbered from `firstParam`. */
export function insertedColumns(writes: readonly ColumnWrite[], firstParam: number): { columns: string; params: string; values: unknown[] } {
  return {
    columns: writes.map((w) => w.column).join(', '),
    params: writes.map((w, i) => w.sql(`$${firstParam + i}`)).join(', '),
    values: writes.map((w) => w.value),
  };
}
