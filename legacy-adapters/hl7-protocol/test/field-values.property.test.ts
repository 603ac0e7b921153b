/**
 * Whatever the delimiters and whatever the values, a message written with escapeValue reads
 * back, value by value, exactly as written: this proves the reader over node-hl7-client (with
 * its workarounds) against an independent writer.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodingCharacters, escapeValue, type Hl7Delimiters } from '../src/index.js';

const SEPARATORS = [...'!#$%&()*+,-./:;<=>?@[\\]^_`{|}~'];

const delimiters: fc.Arbitrary<Hl7Delimiters> = fc
  .shuffledSubarray(SEPARATORS, { minLength: 5, maxLength: 5 })
  .chain((chars) => fc.shuffledSubarray(chars, { minLength: 5, maxLength: 5 }))
  .map(([field, component, repetition, escape, subcomponent]) => ({
    field: field as string,
    component: component as string,
    repetition: repetition as string,
    escape: escape as string,
    subcomponent: subcomponent as string,
    truncation: '',
  }));

// every separator character, line breaks, white space at the ends, text that looks like an
// escape sequence or a segment start, and characters beyond ASCII
const piece = fc.constantFrom(...SEPARATORS, '\r', '\n', ' ', '\t', 'MSH|', 'MSH', '\\X41\\', 'é', '😀', 'a', 'Z', '0');
const value = fc.array(piece, { maxLength: 6 }).map((p) => p.join(''));
const subcomponents = fc.array(value, { minLength: 1, maxLength: 3 });
const components = fc.array(subcomponents, { minLength: 1, maxLength: 3 });
const repetitions = fc.array(components, { minLength: 1, maxLength: 3 });
const fields = fc.array(repetitions, { maxLength: 6 });
const segment = fc.record({ id: fc.constantFrom('PID', 'OBX', 'NTE', 'ZX1'), fields });

type Field = string[][][];

function write(fieldsOf: Field[], d: Hl7Delimiters): string {
  return fieldsOf
    .map((reps) => reps.map((comps) => comps.map((subs) => subs.map((v) => escapeValue(v, d)).join(d.subcomponent)).join(d.component)).join(d.repetition))
    .join(d.field);
}

describe('reading values back', () => {
  it('every value of a message written with escapeValue reads back exactly, for any delimiters (property)', () => {
    fc.assert(
      fc.property(delimiters, fc.array(segment, { maxLength: 5 }), (d, segments) => {
        const e = (v: string) => escapeValue(v, d); // with '.' as a separator even 2.5 needs escaping
        const msh = ['MSH', encodingCharacters(d), 'APP', 'FAC', 'REC', 'RFAC', '20240101', '', `ADT${d.component}A01`, 'C1', 'P', e('2.5')].join(d.field);
        const text = [msh, ...segments.map((s) => [s.id, write(s.fields, d)].join(d.field))].join('\r') + '\r';
        const r = decodeMessage(Buffer.from(text, 'utf8'));
        if (!r.ok) throw new Error(`${r.error.code} ${r.error.message}`);
        const m = r.message;
        expect(m.delimiters).toEqual(d);
        expect(m.segmentIds).toEqual(['MSH', ...segments.map((s) => s.id)]);
        const occurrence = new Map<string, number>();
        for (const s of segments) {
          const occ = (occurrence.get(s.id) ?? 0) + 1;
          occurrence.set(s.id, occ);
          s.fields.forEach((reps, f) => {
            const field = f + 1;
            const path = { segment: s.id, occurrence: occ, field };
            expect(m.repetitionCount(path)).toBe(reps.length === 1 && reps[0]?.length === 1 && reps[0][0]?.length === 1 && reps[0][0][0] === '' ? 0 : reps.length);
            reps.forEach((comps, r) =>
              comps.forEach((subs, c) =>
                subs.forEach((v, sc) => {
                  expect(m.get({ ...path, repetition: r + 1, component: c + 1, subcomponent: sc + 1 })).toBe(v);
                }),
              ),
            );
          });
        }
      }),
      { numRuns: 400 },
    );
  });
});
