/**
 * Legacy dates and times that FHIR cannot hold, left out with the reason rather than written
 * wrong. PostgreSQL keeps what an old import or a legacy screen wrote: a year BC, a year after
 * 9999, `infinity` (a discharge with no time). A FHIR date or dateTime has a year 0001 to 9999
 * (the spec's regex), so `0044-03-15 BC` or `10000-01-01` in `birthDate` makes the whole
 * resource invalid, and to_char would print the year BC as the same year AD (another day) and
 * `infinity` as null (no discharge at all). Such an element is written as FHIR says a value that
 * is missing for a reason is: the primitive's `_name` with the standard data-absent-reason
 * extension, no value.
 */

/** the core extension for why an expected value is missing (valueCode from DataAbsentReason) */
export const DATA_ABSENT_REASON_URL = 'http://hl7.org/fhir/StructureDefinition/data-absent-reason';

/**
 * DataAbsentReason codes used here: `unknown` "the value is expected to exist but is not known"
 * (a discharge the legacy recorded at `infinity`: discharged, but when is not kept);
 * `unsupported` "the source system wasn't capable of supporting this element" (a date the
 * legacy holds, BC or after 9999, that a FHIR date cannot carry).
 */
export type DataAbsentCode = 'unknown' | 'unsupported';

export interface AbsentPrimitive {
  extension: [{ url: typeof DATA_ABSENT_REASON_URL; valueCode: DataAbsentCode }];
}

export const absentPrimitive = (code: DataAbsentCode): AbsentPrimitive => ({ extension: [{ url: DATA_ABSENT_REASON_URL, valueCode: code }] });

// the R4 regexes of date and dateTime (http://hl7.org/fhir/R4/datatypes.html)
const YEAR = '([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)';
const FHIR_DATE = new RegExp(`^${YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$`);
const FHIR_DATE_TIME = new RegExp(
  `^${YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\\.[0-9]+)?(Z|(\\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$`,
);

/** whether a text (sqlFhirDateTimeKept) is a FHIR dateTime */
export const isFhirDateTime = (text: string): boolean => FHIR_DATE_TIME.test(text);

/**
 * Texts of sqlFhirDateTimeKept (FHIR dateTimes, and PostgreSQL's texts of the times FHIR cannot
 * hold) in the order of the instants they name, for the earliest or latest of several. Not as
 * text: FHIR dateTimes of different UTC offsets do not sort so (`2024-03-31T01:30:00+01:00` is
 * before `2024-03-31T01:10:00+00:00`), nor do years BC (`0100-01-01 00:00:00 BC` is before
 * `0044-03-15 12:00:00 BC`) or of five digits (`10000-01-01 00:00:00` is after `9999-…`), and
 * `-infinity` and `infinity` are before and after every time. A text that names no time sorts
 * after all.
 */
export function compareKeptTimes(a: string, b: string): number {
  const [x, y] = [keptInstant(a), keptInstant(b)];
  if (Number.isNaN(x) || Number.isNaN(y)) return Number(Number.isNaN(x)) - Number(Number.isNaN(y));
  return x < y ? -1 : x > y ? 1 : 0;
}

// `2024-07-01T10:30:00+02:00`, `2024` (FHIR), `0044-03-15 12:00:00 BC`, `10000-01-01 00:00:00.5` (PostgreSQL, no offset for a TIMESTAMP)
const KEPT_TIME = /^(\d{4,})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?)?)?)?(Z|[+-]\d{2}(?::?\d{2}){0,2})?( BC)?$/;

/** seconds from 1970-01-01T00:00Z (a time without offset read as UTC); ±Infinity for the infinities, NaN for no time */
function keptInstant(text: string): number {
  if (text === 'infinity') return Infinity;
  if (text === '-infinity') return -Infinity;
  const m = KEPT_TIME.exec(text);
  if (!m) return NaN;
  // there is no year 0: 1 BC is the year before 1 AD (PostgreSQL's calendar is proleptic Gregorian)
  const year = m[8] ? 1 - Number(m[1]) : Number(m[1]);
  const seconds = Number(m[4] ?? 0) * 3600 + Number(m[5] ?? 0) * 60 + Number(m[6] ?? 0);
  return daysFromCivil(year, Number(m[2] ?? 1), Number(m[3] ?? 1)) * 86_400 + seconds - offsetSeconds(m[7]);
}

/** `Z`, `+01:00`, `+0100`, `+01`, `-00:53:28` (PostgreSQL's local mean time) in seconds */
function offsetSeconds(offset: string | undefined): number {
  if (!offset || offset === 'Z') return 0;
  const digits = offset.slice(1).replaceAll(':', '');
  const seconds = Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2, 4) || 0) * 60 + Number(digits.slice(4, 6) || 0);
  return offset[0] === '-' ? -seconds : seconds;
}

/** days from 1970-01-01 of a day of the proleptic Gregorian calendar, for any year (Date stops at ±275760; PostgreSQL goes to 294276) */
function daysFromCivil(year: number, month: number, day: number): number {
  // H. Hinnant's days_from_civil: years start in March, so the leap day ends one
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146_097 + dayOfEra - 719_468;
}

/** why a value that is not a FHIR date: an infinite one is a time not kept, any other one a date FHIR cannot carry */
const reasonFor = (text: string): DataAbsentCode => (/^-?infinity$/.test(text) ? 'unknown' : 'unsupported');

/** `{ name: value }` or `{ _name: why absent }` (or neither), to spread into a resource */
export type FhirPrimitiveElement<N extends string> = Partial<Record<N, string> & Record<`_${N}`, AbsentPrimitive>>;

/**
 * A FHIR date element from a legacy date's text (sqlDate of @ficus/legacy-his/contract):
 * `{ name: value }`, or `{ _name: data-absent-reason }` for a value FHIR cannot hold; nothing
 * for null.
 */
export function fhirDateElement<N extends string>(name: N, text: string | null): FhirPrimitiveElement<N> {
  return primitive(name, text, FHIR_DATE);
}

/** As fhirDateElement, for a dateTime (sqlFhirDateTimeKept). */
export function fhirDateTimeElement<N extends string>(name: N, text: string | null): FhirPrimitiveElement<N> {
  return primitive(name, text, FHIR_DATE_TIME);
}

function primitive<N extends string>(name: N, text: string | null, valid: RegExp): FhirPrimitiveElement<N> {
  if (text === null) return {};
  const element: Record<string, string | AbsentPrimitive> = valid.test(text) ? { [name]: text } : { [`_${name}`]: absentPrimitive(reasonFor(text)) };
  return element as FhirPrimitiveElement<N>;
}

/**
 * A local TIMESTAMP column as sqlFhirDateTime writes it (`2024-07-01T10:30:00+02:00`), except a
 * value FHIR cannot hold, which is PostgreSQL's own text of it (`infinity`, `-infinity`,
 * `0044-03-15 10:00:00 BC`, `10000-01-01 00:00:00`) where sqlFhirDateTime gives null or another
 * day: for fhirDateTimeElement to leave out with its reason, and for the caller to tell from
 * null (a stay discharged at `infinity` is discharged).
 */
export const sqlFhirDateTimeKept = (column: string) =>
  `(CASE WHEN NOT isfinite(${column}) OR ${column} < TIMESTAMP '0001-01-01' OR ${column} >= TIMESTAMP '10000-01-01' THEN ${column}::text
         ELSE to_char(${column}::timestamptz, 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM') END)`;
