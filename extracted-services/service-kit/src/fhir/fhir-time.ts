/**
 * A local TIMESTAMP column as a FHIR dateTime/instant: the hospital's wall-clock time with its
 * UTC offset (the database's TimeZone is the hospital's), `2024-07-01T10:30:00+02:00`. The
 * legacy contract's own formats (no offset) are sqlTimestamp and sqlDate of
 * @ficus/legacy-his/contract.
 */
export const sqlFhirDateTime = (column: string) => `to_char(${column}::timestamptz, 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM')`;
