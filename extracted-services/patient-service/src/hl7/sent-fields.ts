/**
 * HL7 v2's rule for a field of a message that updates a record (chapter 2, "Fields"): a field
 * left empty says nothing, and the receiver keeps what it holds; a field of `""` (HL7's null)
 * deletes the value; a field sent is the new value. The field is the unit, not its components:
 * `""` in a composite field (a name, an address, a location) deletes all of it, and a composite
 * sent replaces all of it, so a component it leaves empty is empty now (`10 NEW ST^^BOSTON`
 * has no state or ZIP code any more, where keeping the old ones would make an address that
 * never was).
 */
import type { Hl7Message } from '@ficus/hl7-protocol';

/** `empty`: keep what is stored; `null`: delete it; `valued`: the field's content is the new value */
export type FieldSent = 'empty' | 'null' | 'valued';

const HL7_NULL = '""';

/**
 * How the n-th `segment` (not MSH, whose fields are counted otherwise) sends `field`: judged
 * on the whole field as written, every repetition, component and subcomponent of it. A field
 * of nothing but `""` and empty parts (`""^^`) is the null.
 */
export function fieldSent(m: Hl7Message, segment: string, n: number, field: number): FieldSent {
  const parts = rawField(m, segment, n, field)
    .split(new RegExp(`[${[m.delimiters.repetition, m.delimiters.component, m.delimiters.subcomponent].map(escapeForClass).join('')}]`))
    .map((p) => p.trim());
  if (parts.every((p) => p === '')) return 'empty';
  if (parts.every((p) => p === '' || p === HL7_NULL)) return 'null';
  return 'valued';
}

/** the field as written in the message, escape sequences and all; '' when the segment or field is absent */
function rawField(m: Hl7Message, segment: string, n: number, field: number): string {
  const sep = m.delimiters.field;
  const segments = m.text.split('\r').filter((s) => s === segment || s.startsWith(segment + sep));
  return segments[n - 1]?.split(sep)[field] ?? '';
}

const escapeForClass = (c: string) => c.replace(/[\\\]^-]/g, '\\$&');
