/**
 * The direct reader of the header and PID-3 (segment-values.ts) reads what node-hl7-client
 * reads, value for value, for any delimiters and any raw field text: structure characters,
 * escape sequences of every kind (known, formatting, hex, unknown, empty, unterminated), white
 * space, text beyond ASCII. The one difference on purpose (a \X..\ that is not hex digit
 * pairs) is checked on its own: kept as written, where the library throws or reads NUL. Text
 * holding "MSH|" after the segment start is left out: the library is given it masked.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, encodingCharacters, type Hl7Delimiters } from '../src/index.js';
import { LibraryMessageReader } from '../src/hl7/library-reader.js';
import { segmentRepetitions, segmentValue, unescapeValue } from '../src/hl7/segment-values.js';

const SEPARATORS = [...'!#$%&()*+,-./:;<=>?@[\\]^_`{|}~'];

const delimiters: fc.Arbitrary<Hl7Delimiters> = fc
  .shuffledSubarray(SEPARATORS, { minLength: 5, maxLength: 5 })
  .map(([field, component, repetition, escape, subcomponent]) => ({
    field: field!,
    component: component!,
    repetition: repetition!,
    escape: escape!,
    subcomponent: subcomponent!,
    truncation: '',
  }));

/** raw field text: plain pieces, the structure characters, and escape sequences written with `e` */
function fieldText(d: Hl7Delimiters): fc.Arbitrary<string> {
  const e = d.escape;
  const piece = fc.oneof(
    fc.constantFrom('a', 'Z', '0', ' ', 'é', '😀', 'MSH', 'X', 'F'),
    fc.constantFrom(d.component, d.repetition, d.subcomponent),
    fc.constantFrom('E', 'F', 'R', 'S', 'T', 'H', 'N', 'C4142', 'M414243', 'Z1', 'Q', '', 'X', 'X41', 'X0D0A', 'xyz').map((s) => `${e}${s}${e}`),
    fc.constant(e), // an escape character with no partner (or pairing with a later one)
  );
  return fc.array(piece, { maxLength: 8 }).map((p) => p.join(''));
}

const segmentOf = (d: Hl7Delimiters) =>
  fc.record({ id: fc.constantFrom('PID', 'MSH'), fields: fc.array(fieldText(d), { maxLength: 6 }) }).map(({ id, fields }) => {
    if (id === 'MSH') return ['MSH', encodingCharacters(d), ...fields].join(d.field);
    return ['PID', ...fields].join(d.field);
  });

/** Whether the library would meet, in some value, a \X..\ sequence that is not whole hex digit pairs (it scans escape to escape). */
function hasMalformedHex(segment: string, d: Hl7Delimiters): boolean {
  const esc = (c: string) => c.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
  const e = esc(d.escape);
  const values = segment.split(new RegExp([d.field, d.repetition, d.component, d.subcomponent].map(esc).join('|')));
  return values.some((v) =>
    [...v.matchAll(new RegExp(`${e}[^${e}]*${e}`, 'g'))].some((m) => {
      const body = m[0].slice(1, -1);
      return body.startsWith('X') && !/^(?:[0-9A-Fa-f]{2})*$/.test(body.slice(1));
    }),
  );
}

describe('reading the header and PID-3 directly', () => {
  it('reads every value and repetition count as node-hl7-client does, for any delimiters and any field text (property)', () => {
    fc.assert(
      fc.property(
        delimiters.chain((d) => fc.tuple(fc.constant(d), segmentOf(d))),
        ([d, segment]) => {
          const msh = ['MSH', encodingCharacters(d), 'APP', 'FAC'].join(d.field);
          const segments = segment.startsWith('MSH') ? [segment] : [msh, segment];
          // the one difference on purpose (checked below): a \X..\ that is not hex digit pairs
          if (hasMalformedHex(segment, d)) return;
          // an inner "MSH|" reaches the library masked (its MSH count, see library-reader.ts), and the
          // mask, placed by the escape parity of the whole field, can pair with an escape of the same
          // value: there the library reads the masked text, the direct reading the raw one
          if (segment.indexOf('MSH|', 1) !== -1) return;
          let library: LibraryMessageReader;
          try {
            library = new LibraryMessageReader(segments, d);
          } catch {
            return; // the library refuses the message: decoding refuses it too, nothing is read
          }
          const id = segment.slice(0, 3);
          const occurrence = 1;
          const fields = segment.split(d.field).length + 1;
          for (let field = 1; field <= fields; field++) {
            const count = { segment: id, occurrence, field };
            // MSH-1 and MSH-2 are the delimiters, not values with repetitions
            if (!(id === 'MSH' && field <= 2)) expect(segmentRepetitions(segment, d, field), JSON.stringify({ segment, count })).toBe(library.repetitionCount(count));
            for (let repetition = 1; repetition <= 3; repetition++) {
              for (let component = 1; component <= 3; component++) {
                for (let subcomponent = 1; subcomponent <= 3; subcomponent++) {
                  const a = { segment: id, occurrence, field, repetition, component, subcomponent };
                  expect(segmentValue(segment, d, a), JSON.stringify({ segment, a })).toBe(library.value(a));
                }
              }
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('keeps a \\X..\\ sequence that is not hex digit pairs as written, and decoding never throws on one', () => {
    const d: Hl7Delimiters = { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&', truncation: '' };
    expect(unescapeValue('A\\X4\\B', d)).toBe('A\\X4\\B');
    expect(unescapeValue('A\\XZZ\\B', d)).toBe('A\\XZZ\\B');
    expect(unescapeValue('A\\X41\\B', d)).toBe('AAB');
    for (const v of ['A\\X4\\B', 'A\\X123\\B']) {
      const r = decodeMessage(Buffer.from(`MSH|^~\\&|APP|FAC|||2024||ADT^A01|${v}|P|2.5\rPID|1||${v}^^^X\rNTE|1||${v}\r`));
      expect(r.ok).toBe(true);
      if (!r.ok) continue;
      expect(r.message.header.controlId).toBe(v);
      expect(r.message.patientId?.id).toBe(v);
      expect(r.message.get('NTE-3')).toBe(v);
    }
  });
});
