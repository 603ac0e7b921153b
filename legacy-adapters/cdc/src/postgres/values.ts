/**
 * PostgreSQL values, from their text form (the type's output: what pgoutput sends, and what the
 * snapshot reads, uncast), to the envelope's JSON values: the same function for both, so a row
 * read by the snapshot and the same row streamed later look alike. The sessions that produce
 * the text run with DateStyle ISO and TimeZone UTC (see SESSION_OPTIONS).
 */

/** startup options for every connection whose text output is converted here */
export const SESSION_OPTIONS = '-c DateStyle=ISO,YMD -c TimeZone=UTC -c IntervalStyle=iso_8601 -c extra_float_digits=3 -c bytea_output=hex';

const BOOL = 16;
const INT8 = 20;
const INT2 = 21;
const INT4 = 23;
const OID = 26;
const JSON_ = 114;
const FLOAT4 = 700;
const FLOAT8 = 701;
const TIMESTAMP = 1114;
const TIMESTAMPTZ = 1184;
const JSONB = 3802;

/** The envelope's value of one column (null stays null). */
export function fromText(typeOid: number, text: string | null): unknown {
  if (text === null) return null;
  switch (typeOid) {
    case BOOL:
      return text === 't' || text === 'true'; // boolout says t; true is a bool → text cast's spelling
    case INT2:
    case INT4:
    case OID:
      return Number(text);
    case FLOAT4:
    case FLOAT8: {
      const n = Number(text);
      return Number.isFinite(n) ? n : text; // NaN, Infinity stay text: JSON has no word for them
    }
    case TIMESTAMP:
      // local time as the source stored it: 2024-07-01 08:00:00 → 2024-07-01T08:00:00; a year
      // after 9999 too (10000-01-01T08:00:00), BC kept (0044-03-15T12:00:00 BC), infinity as is
      return text.replace(/^(\d{4,}-\d\d-\d\d) /, '$1T');
    case TIMESTAMPTZ:
      return isoWithOffset(text);
    case JSON_:
    case JSONB:
      return JSON.parse(text) as unknown;
    case INT8: // bigint and numeric keep every digit: strings
    default:
      return text; // text, varchar, char, numeric, date (YYYY-MM-DD), uuid, bytea (\x hex), ...
  }
}

/** `2024-07-01 08:00:00+00` (TimeZone UTC) → `2024-07-01T08:00:00+00:00` */
function isoWithOffset(text: string): string {
  const m = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d)(?::?(\d\d))?$/.exec(text);
  if (!m) return text; // infinity, BC dates: as PostgreSQL wrote them
  return `${m[1]}T${m[2]}${m[3]}:${m[4] ?? '00'}`;
}
