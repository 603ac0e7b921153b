/**
 * strict-json.ts reads a body again when lossless-json dropped a repeated key's value unseen: it
 * must read every other body as lossless-json does, and refuse what is not JSON.
 */
import fc from 'fast-check';
import { parse } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { numberOf, RepeatedKey } from '../src/parity/exact-values.js';
import { parseStrictJson } from '../src/parity/strict-json.js';

const lossless = (text: string) => parse(text, null, { parseNumber: numberOf, onDuplicateKey: ({ oldValue, newValue }) => new RepeatedKey(oldValue instanceof RepeatedKey ? [...oldValue.values, newValue] : [oldValue, newValue]) });

describe('parseStrictJson', () => {
  it('reads what lossless-json reads, long numbers, escapes, white space and repeats with two values too', () => {
    const long = fc.constantFrom('12345678901234567', '-1e400', '0.1000000000000000001', '1E2', '-0');
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), long, fc.boolean(), (v, n, spaced) => {
        const text = JSON.stringify({ v, n: 0, w: [v] }, null, spaced ? 2 : undefined).replace('"n": 0', `"n": ${n}`).replace('"n":0', `"n":${n}`);
        expect(parseStrictJson(text)).toEqual(lossless(text));
      }),
      { numRuns: 300 },
    );
    for (const text of ['{"a":1,"a":2,"a":3}', '{"a":"x\\"y","a":"\\u00e9"}', '[{"__proto__":1}]', ' "s" ', '{"a":{"b":1},"a":{"b":2}}']) expect(parseStrictJson(text)).toEqual(lossless(text));
  });

  it('refuses what is not JSON', () => {
    for (const text of ['{"a":1,}', '[1,]', '{"a" 1}', '[1] x', 'tru', '{"a":1', '"x', '', '-', '[01x]', '[01]', '1.', '.5']) expect(() => parseStrictJson(text), text).toThrow(SyntaxError);
  });
});
