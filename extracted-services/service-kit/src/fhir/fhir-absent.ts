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
 * Whether a text of sqlFhirDateTimeKept that is no FHIR dateTime lies before every one (a year
 * BC, `-infinity`) rather than after (a year after 9999, `infinity`): for the earliest or latest
 * of several times.
 */
export const isBeforeFhirTimes = (text: string): boolean => !isFhirDateTime(text) && (/ BC$/.test(text) || text === '-infinity');

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
