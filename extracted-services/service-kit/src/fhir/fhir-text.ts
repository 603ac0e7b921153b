/**
 * A stored text as a FHIR string: FHIR forbids empty strings and strings of whitespace only, and
 * wants no leading or trailing whitespace, which legacy values carry (a CHAR(2) state `I `, a
 * result of spaces). Undefined when nothing is left: the element is left out.
 */
export function fhirText(v: string | null | undefined): string | undefined {
  if (v === null || v === undefined) return undefined;
  const t = v.trim();
  return t === '' ? undefined : t;
}
