/**
 * Answers that differ only where JSON.parse loses the difference: an integer beyond 2^53 that a
 * service in JavaScript rounds, a decimal with more digits than a double holds, a key given twice
 * (a client that reads the first sees another value than one that reads the last). Each counted
 * as a match, and so as evidence for the flip. Numbers equal in value however written still match.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareObserved, compileCompare, formatDiff, redactDiff, type Observed } from '../src/parity/compare.js';
import { ExactNumber, RepeatedKey } from '../src/parity/exact-values.js';
import { parseComparedJson } from '../src/parity/json-body.js';
import type { CompareSettings } from '../src/rules/model.js';

const answer = (text: string): Observed => ({
  status: 200,
  headers: { 'content-type': 'application/json' },
  body: { kind: 'json', value: parseComparedJson(text), sha256: text },
});
const compare = (legacy: string, target: string, settings?: CompareSettings) => compareObserved(answer(legacy), answer(target), compileCompare(settings));
const same = (legacy: string, target: string, settings?: CompareSettings) => compare(legacy, target, settings).match;
/** the diff as the admin API and the CLI show it once stored (PostgreSQL jsonb, read back with JSON.parse) */
const storedText = (legacy: string, target: string, settings?: CompareSettings) => formatDiff(JSON.parse(JSON.stringify(compare(legacy, target, settings).diff)) as never);

describe('numbers compare by their exact value', () => {
  it('an integer beyond 2^53 rounded by the new service is a mismatch, shown with its digits', () => {
    const r = compare('{"acct":9007199254740993,"mrn":"100001"}', '{"acct":9007199254740992,"mrn":"100001"}');
    expect(r.match).toBe(false);
    expect(r.diff).toEqual([{ path: '/acct', kind: 'changed', legacy: '‹9007199254740993›', target: 9007199254740992 }]);
    expect(formatDiff(r.diff)).toBe('~ /acct: 9007199254740993 → 9007199254740992');
    expect(storedText('{"acct":9007199254740993}', '{"acct":9007199254740992}')).toBe('~ /acct: 9007199254740993 → 9007199254740992');
    expect(JSON.stringify(r.diff)).toContain('"legacy":"‹9007199254740993›"');
    // a 64-bit id and its neighbour, both beyond what a double tells apart
    expect(same('{"id":18446744073709551615}', '{"id":18446744073709551614}')).toBe(false);
    expect(same('[-9223372036854775808]', '[-9223372036854775807]')).toBe(false);
  });

  it('decimals that round to one double are two values; beyond a double\'s range too', () => {
    expect(same('{"dose":0.1000000000000000001}', '{"dose":0.1}')).toBe(false);
    expect(storedText('{"dose":0.1000000000000000001}', '{"dose":0.1}')).toBe('~ /dose: 0.1000000000000000001 → 0.1');
    expect(same('{"x":1e400}', '{"x":1e401}')).toBe(false);
    expect(same('{"x":1e-400}', '{"x":0}')).toBe(false);
    expect(same('{"x":4.9e-324}', '{"x":5e-324}')).toBe(false);
  });

  it('one value written another way is the same value', () => {
    expect(same('{"a":1.0,"b":1e2,"c":-0,"d":0.50}', '{"a":1,"b":100,"c":0,"d":0.5}')).toBe(true);
    expect(same('{"acct":9007199254740993.0}', '{"acct":9007199254740993}')).toBe(true);
    expect(same('{"acct":90071992547409930e-1}', '{"acct":9.007199254740993E15}')).toBe(true);
    expect(same('{"x":1.00000000000000000000e400}', '{"x":1e400}')).toBe(true);
    expect(same('{"w":71.5}', '{"w":71.50000000000000000}')).toBe(true);
  });

  it('keeps working in lists: aligned, ordered by key, an item missing named', () => {
    const big = (n: number) => `{"id":900719925474099${n},"v":"x"}`;
    expect(same(`{"items":[${big(1)},${big(3)}]}`, `{"items":[${big(3)},${big(1)}]}`, { arrayKeys: { '/items': 'id' } })).toBe(true);
    const r = compare(`{"items":[${big(1)},${big(3)},${big(5)}]}`, `{"items":[${big(1)},${big(5)}]}`);
    expect(r.diff).toEqual([{ path: '/items/1', kind: 'removed', legacy: { id: '‹9007199254740993›', v: 'x' } }]);
    expect(formatDiff(r.diff)).toBe('- /items/1: {"id":9007199254740993,"v":"x"} (only in legacy)');
    expect(same('{"ids":[9007199254740993.0]}', '{"ids":[9007199254740993]}')).toBe(true);
  });

  it('numbers-as-strings reads a string\'s exact value', () => {
    const settings: CompareSettings = { normalize: ['numbers-as-strings'] };
    expect(same('{"acct":"9007199254740993"}', '{"acct":9007199254740992}', settings)).toBe(false);
    expect(same('{"acct":"9007199254740993"}', '{"acct":9007199254740993}', settings)).toBe(true);
    expect(same('{"acct":"12"}', '{"acct":12.0}', settings)).toBe(true);
  });

  it('the other normalizers pass numbers through and still apply to strings', () => {
    const settings: CompareSettings = { normalize: ['timestamps', 'uuids', 'trim', 'case-insensitive'] };
    expect(same('{"acct":9007199254740993,"name":" Smith "}', '{"acct":9007199254740993,"name":"SMITH"}', settings)).toBe(true);
    expect(same('{"acct":9007199254740993,"at":"2026-01-01T08:00:00Z"}', '{"acct":9007199254740992,"at":"2026-01-02T09:00:00Z"}', settings)).toBe(false);
  });

  it('a kept sample without values says number, never the digits', () => {
    const red = redactDiff(compare('{"acct":9007199254740993}', '{"acct":9007199254740992}').diff, false);
    expect(red).toEqual([{ path: '/acct', kind: 'changed', legacy: '‹number›', target: '‹number›' }]);
    expect(JSON.stringify(red) + formatDiff(red)).not.toContain('900719925474099');
  });
});

describe('a key given twice', () => {
  it('with two values is a difference at its path, both values shown', () => {
    const r = compare('{"mrn":"100001","ward":"7","ward":"9"}', '{"mrn":"100001","ward":"9"}');
    expect(r.match).toBe(false);
    expect(r.fields).toEqual(['/ward']);
    expect(r.diff).toEqual([{ path: '/ward', kind: 'changed', legacy: { '‹repeated key›': ['7', '9'] }, target: '9' }]);
    expect(formatDiff(r.diff)).toBe('~ /ward: {‹repeated key›:["7","9"]} → "9"');
    expect(storedText('{"a":1,"a":2}', '{"a":2}')).toBe('~ /a: {‹repeated key›:[1,2]} → 2');
    // the first read too, and nested in a list item
    expect(same('{"a":1,"a":2}', '{"a":1}')).toBe(false);
    expect(compare('{"items":[{"id":1,"v":1,"v":2}]}', '{"items":[{"id":1,"v":2}]}').fields).toEqual(['/items/*/v']);
    expect(same('{"a":1,"a":2,"a":3}', '{"a":1,"a":2}')).toBe(false);
  });

  it('with one value, or the same repeat on both sides, reads the same to every client', () => {
    expect(same('{"a":1,"a":1}', '{"a":1}')).toBe(true);
    expect(same('{"a":1,"a":2}', '{"a":1,"a":2}')).toBe(true);
    expect(same('{"a":1,"a":2}', '{"a":2,"a":1}')).toBe(false);
  });

  it('is left out where ignored and reads as one value where the rule deems its values equal', () => {
    expect(same('{"a":1,"a":2,"b":3}', '{"a":2,"b":3}', { ignore: ['/a'] })).toBe(true);
    expect(same('{"name":"SMITH ","name":"smith"}', '{"name":"Smith"}', { normalize: ['trim', 'case-insensitive'] })).toBe(true);
    expect(same('{"name":"SMITH ","name":"smith"}', '{"name":"Smith"}', { normalize: ['trim'] })).toBe(false);
    const red = redactDiff(compare('{"a":"x","a":"y"}', '{"a":"y"}').diff, false);
    expect(JSON.parse(JSON.stringify(red))).toEqual([{ path: '/a', kind: 'changed', legacy: { '‹repeated key›': ['‹string›', '‹string›'] }, target: '‹string›' }]);
  });
});

describe('parseComparedJson', () => {
  it('reads what JSON.parse reads wherever JSON.parse loses nothing', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
        const text = JSON.stringify(v);
        expect(parseComparedJson(text)).toEqual(JSON.parse(text));
      }),
    );
  });

  it('sees a repeated key and a long number wherever they are, and refuses what is not JSON', () => {
    expect(parseComparedJson('{"a" : {"b":[1, {"c":"x:\\"y","c":"z"}]}}')).toEqual({ a: { b: [1, { c: new RepeatedKey(['x:"y', 'z']) }] } });
    expect(parseComparedJson('{"k":"\\\\","n":12345678901234567}')).toEqual({ k: '\\', n: new ExactNumber('12345678901234567') });
    // digits inside a string are text, not a number
    expect(parseComparedJson('{"phone":"00441234567890123456","n":1.5}')).toEqual({ phone: '00441234567890123456', n: 1.5 });
    expect(() => parseComparedJson('{"a":1,}')).toThrow(SyntaxError);
    expect(() => parseComparedJson('{"a":12345678901234567')).toThrow(SyntaxError);
  });
});
