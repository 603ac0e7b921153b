/**
 * A local TIMESTAMP column as a FHIR dateTime/instant: the hospital's wall-clock time with its
 * UTC offset (the database's TimeZone is the hospital's), `2024-07-01T10:30:00+02:00`. The
 * legacy contract's own formats (no offset) are sqlTimestamp and sqlDate of
 * @ficus/legacy-his/contract.
 */
export const sqlFhirDateTime = (column: string) => `to_char(${column}::timestamptz, 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM')`;

/**
 * Whether `YYYY-MM-DD` is a day of the calendar: PostgreSQL refuses 1980-02-30 with an error
 * (22008) where JavaScript's Date.parse quietly rolls it over to March, so search parameters are
 * checked here, before they reach SQL. Year 0 does not exist in PostgreSQL's calendar.
 */
export function isCalendarDate(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (y < 1 || mo < 1 || mo > 12 || d < 1) return false;
  const days = new Date(Date.UTC(2000, mo, 0)).getUTCDate(); // 2000 is a leap year: February has 29
  return d <= days && !(mo === 2 && d === 29 && !(y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)));
}

/** Whether `Thh:mm[:ss][Z|±hh:mm]` is a time of day with a zone PostgreSQL accepts. */
export function isTimeOfDay(text: string): boolean {
  const m = /^T(\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-](\d{2}):(\d{2}))?$/.exec(text);
  if (!m) return false;
  const [h, mi, s] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  const zone = m[5] === undefined || (Number(m[5]) <= 14 && Number(m[6]) < 60);
  return h < 24 && mi < 60 && s < 60 && zone;
}
