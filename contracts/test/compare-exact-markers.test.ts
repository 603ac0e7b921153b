/**
 * A diff holds a number no double holds as the string `‹digits›`, a repeated key as an object
 * with the key `‹repeated key›`, and a redacted value as `‹string›`, `‹number›`... A body may hold
 * such strings and keys itself: its string "‹9007199254740993›" against the service's number
 * 9007199254740993 read `~ /acct: 9007199254740993 → 9007199254740993`, the same on both sides,
 * in the dashboard, `ficus parity` and the stored diff. And the equality under it: numbers by
 * their exact value whichever way a body is read (JSON.parse when it loses nothing, lossless-json
 * else), never a string as a number, and keys JavaScript objects treat specially kept as keys.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareObserved, compileCompare, formatDiff, redactDiff, type DiffEntry, type Observed } from '../src/parity/compare.js';
import { parseComparedJson } from '../src/parity/json-body.js';
import type { CompareSettings } from '../src/rules/model.js';

const answer = (text: string): Observed => ({
  status: 200,
  headers: { 'content-type': 'application/json' },
  body: { kind: 'json', value: parseComparedJson(text), sha256: text },
});
const compare = (legacy: string, target: string, settings?: CompareSettings) => compareObserved(answer(legacy), answer(target), compileCompare(settings));
const same = (legacy: string, target: string, settings?: CompareSettings) => compare(legacy, target, settings).match;
/** as kept: PostgreSQL jsonb, the admin API, `ficus parity --json` */
const stored = (diff: DiffEntry[]) => JSON.parse(JSON.stringify(diff)) as DiffEntry[];
/** the text of a diff in memory and once stored: the dashboard and `ficus parity` show the latter */
const texts = (legacy: string, target: string) => {
  const { diff } = compare(legacy, target);
  return [formatDiff(diff), formatDiff(stored(diff))];
};

describe('a body\'s own ‹…› strings and keys never read as markers', () => {
  it('a string "‹digits›" against that number is a mismatch, shown and stored as a string against a number', () => {
    for (const [s, n] of [['‹9007199254740993›', '9007199254740993'], ['‹123›', '123'], ['‹1e400›', '1e400']] as const) {
      expect(same(`{"acct":"${s}"}`, `{"acct":${n}}`)).toBe(false);
      expect(same(`{"acct":${n}}`, `{"acct":"${s}"}`)).toBe(false);
      expect(same(`{"acct":"${s}"}`, `{"acct":${n}}`, { normalize: ['numbers-as-strings'] })).toBe(false);
      for (const text of texts(`{"acct":"${s}"}`, `{"acct":${n}}`)) expect(text).toBe(`~ /acct: "${s}" → ${n}`);
      for (const text of texts(`{"acct":${n}}`, `{"acct":"${s}"}`)) expect(text).toBe(`~ /acct: ${n} → "${s}"`);
      const kept = stored(compare(`{"acct":"${s}"}`, `{"acct":${n}}`).diff)[0]!;
      expect(kept.legacy).not.toEqual(stored(compare(`{"acct":${n}}`, `{"acct":"${s}"}`).diff)[0]!.legacy);
    }
  });

  it('a string that reads like a redacted shape is shown as the string it is', () => {
    for (const text of texts('{"name":"‹string›"}', '{"name":"x"}')) expect(text).toBe('~ /name: "‹string›" → "x"');
    for (const text of texts('{"a":["‹‹x","‹"]}', '{"a":1}')) expect(text).toBe('~ /a: ["‹‹x","‹"] → 1');
  });

  it('an object with a key "‹repeated key›" is not a repeated key, in a list item or a header either', () => {
    expect(same('{"a":{"‹repeated key›":[1,2]}}', '{"a":1,"a":2}')).toBe(false);
    const [inMemory, fromStore] = texts('{"a":{"‹repeated key›":[1,2]}}', '{"a":1,"a":2}');
    expect(inMemory).toBe('~ /a: {"‹repeated key›":[1,2]} → {‹repeated key›:[1,2]}');
    expect(fromStore).toBe(inMemory);
    expect(texts('{"items":[{"‹n›":"‹1›"}]}', '{"items":[]}')).toEqual(['- /items/0: {"‹n›":"‹1›"} (only in legacy)', '- /items/0: {"‹n›":"‹1›"} (only in legacy)']);
    const headers = (v: string): Observed => ({ status: 200, headers: { 'x-acct': v }, body: { kind: 'none' } });
    const h = compareObserved(headers('‹12›'), headers('12'), compileCompare({ headers: ['x-acct'] }));
    expect(formatDiff(stored(h.diff))).toBe('~ header:x-acct: "‹12›" → "12"');
  });

  it('redacted, a body\'s string stays a string and an exact number a number', () => {
    const red = redactDiff(compare('{"a":"‹9007199254740993›","b":9007199254740993,"c":{"‹repeated key›":["x"]}}', '{}').diff, false);
    expect(stored(red)).toEqual([
      { path: '/a', kind: 'removed', legacy: '‹string›' },
      { path: '/b', kind: 'removed', legacy: '‹number›' },
      { path: '/c', kind: 'removed', legacy: { '‹‹repeated key›': ['‹string›'] } },
    ]);
    expect(formatDiff(red)).toBe('- /a: ‹string› (only in legacy)\n- /b: ‹number› (only in legacy)\n- /c: {"‹repeated key›":[‹string›]} (only in legacy)');
  });

  it('diffs stored before the escape still read: a number as its digits, a repeated key and a shape as markers', () => {
    const old: DiffEntry[] = [
      { path: '/acct', kind: 'changed', legacy: '‹9007199254740993›', target: 9007199254740992 },
      { path: '/ward', kind: 'changed', legacy: { '‹repeated key›': ['7', '9'] }, target: '9' },
      { path: '/name', kind: 'changed', legacy: '‹string›', target: '‹string›' },
      { path: '/items/0', kind: 'removed', legacy: { id: '‹12345678901234567›', v: 'x' } },
    ];
    expect(formatDiff(old)).toBe(
      '~ /acct: 9007199254740993 → 9007199254740992\n~ /ward: {‹repeated key›:["7","9"]} → "9"\n~ /name: ‹string› → ‹string›\n- /items/0: {"id":12345678901234567,"v":"x"} (only in legacy)',
    );
  });
});

/** value = mantissa × 10^exponent, by BigInt: the oracle, independent of the code under test */
function exactly(text: string): [bigint, number] {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text)!;
  const frac = m[3] ?? '';
  return [BigInt(`${m[1]}${m[2]}${frac}`), Number(m[4] ?? 0) - frac.length];
}
function sameValue(a: string, b: string): boolean {
  const [ma, ea] = exactly(a);
  const [mb, eb] = exactly(b);
  return ea >= eb ? ma * 10n ** BigInt(ea - eb) === mb : mb * 10n ** BigInt(eb - ea) === ma;
}

interface Written {
  digits: string;
  exp: number;
  negative: boolean;
  trail: number;
  point: number;
  style: number;
}
/** digits × 10^exp as JSON: a point anywhere, leading and trailing zeros, e or E, signed or zero-padded exponents */
function numberText(v: Written): string {
  const sign = v.negative ? '-' : '';
  if (/^0+$/.test(v.digits)) return sign + ['0', '0.0', '0e5', '0.000E-3'][v.style % 4]!;
  const m = v.digits.replace(/^0+/, '') + '0'.repeat(v.trail);
  const p = v.point;
  const mantissa = p === 0 ? m : p >= m.length ? `0.${'0'.repeat(p - m.length)}${m}` : `${m.slice(0, m.length - p)}.${m.slice(m.length - p)}`;
  // m × 10^(exp - trail) is the value; the point moved p places left
  const e = v.exp - v.trail + p;
  if (e === 0 && v.style % 2 === 0) return sign + mantissa;
  const abs = String(Math.abs(e));
  return sign + mantissa + [`e${e}`, `E${e < 0 ? '-' : '+'}${abs}`, `e${e < 0 ? '-' : ''}00${abs}`, `E${e}`][v.style % 4]!;
}

describe('numbers compare by exact value, whichever way each body is read', () => {
  /**
   * the same value read by JSON.parse, by lossless-json (a long number sends the body there), by
   * strict-json.ts (a key given twice with one value, which lossless-json drops unseen), each
   * against each
   */
  const ways = [(n: string) => `{"_":1,"v":${n}}`, (n: string) => `{"_":12345678901234567,"v":${n}}`, (n: string) => `{"_":1,"_":1,"v":${n}}`];
  const every = (a: string, b: string) => [same(`[${a}]`, `[${b}]`), ...ways.flatMap((x) => ways.map((y) => same(x(a), y(b), { ignore: ['/_'] })))];
  const all = (v: boolean) => Array<boolean>(10).fill(v);

  it('the documented cases', () => {
    const equal = [['-0', '0'], ['0.0', '0'], ['1E2', '100'], ['1e400', '10e399'], ['1.0', '1'], ['0.50', '5e-1'], ['-0.0e-400', '0']];
    for (const [a, b] of equal) expect(every(a!, b!), `${a} = ${b}`).toEqual(all(true));
    const unequal = [
      ['1e400', '1e401'],
      ['1e400', '-1e400'],
      ['1e-400', '0'],
      ['0.1000000000000000001', '0.1'],
      ['1.00000000000000001e5', '1e5'],
      ['100000.000000000001', '100000'],
      ['0.00000000000000000000100000000000000001', '1e-21'],
      ['9007199254740993', '9007199254740992'],
      ['123456789012345678e-2', '1234567890123456.8'],
      ['1e100000000000000000000', '1e100000000000000000001'],
      ['-1e-100000000000000000000', '-1e-100000000000000000001'],
    ];
    for (const [a, b] of unequal) expect(every(a!, b!), `${a} ≠ ${b}`).toEqual(all(false));
  });

  it('any two numbers: equal exactly when their decimal values are, a string never equal to a number', () => {
    const value = fc.record({
      digits: fc.stringMatching(/^[0-9]{1,24}$/),
      exp: fc.integer({ min: -340, max: 340 }),
      negative: fc.boolean(),
      trail: fc.nat(4),
      point: fc.nat(30),
      style: fc.nat(7),
    });
    // the second number: the same value written another way, or one digit off somewhere
    const pair = value.chain((a) =>
      fc.tuple(
        fc.constant(a),
        fc.oneof(
          fc.record({ trail: fc.nat(4), point: fc.nat(30), style: fc.nat(7) }).map((w) => ({ ...a, ...w })),
          fc.nat(30).map((at) => ({ ...a, digits: `${a.digits}${'0'.repeat(at)}1`, exp: a.exp - at - 1 })),
          value,
        ),
      ),
    );
    fc.assert(
      fc.property(pair, ([a, b]) => {
        const [ta, tb] = [numberText(a), numberText(b)];
        const expected = sameValue(ta, tb);
        expect(every(ta, tb), `${ta} vs ${tb}`).toEqual(all(expected));
        expect(same(`{"v":"${ta}"}`, `{"v":${tb}}`, { normalize: ['numbers-as-strings'] })).toBe(expected);
        expect(same(`{"v":"${ta}"}`, `{"v":${ta}}`)).toBe(false);
      }),
      { numRuns: 400 },
    );
  });
});

describe('keys an object of JavaScript treats specially', () => {
  it('a key "__proto__" is compared as any other key', () => {
    expect(same('{"__proto__":{"mrn":"1"},"a":1}', '{"a":1}')).toBe(false);
    expect(same('{"__proto__":1}', '{}')).toBe(false);
    expect(same('{"__proto__":1}', '{"__proto__":2}')).toBe(false);
    expect(same('{"__proto__":[9007199254740993]}', '{"__proto__":[9007199254740993.0]}')).toBe(true);
    expect(compare('{"__proto__":{"mrn":"1"}}', '{}').diff).toEqual([{ path: '/__proto__', kind: 'removed', legacy: { mrn: '1' } }]);
  });

  it('a key only one side has is missing on the other, whatever Object.prototype holds', () => {
    expect(compare('{"toString":1}', '{}').diff).toEqual([{ path: '/toString', kind: 'removed', legacy: 1 }]);
    expect(compare('{}', '{"constructor":"x"}').diff).toEqual([{ path: '/constructor', kind: 'added', target: 'x' }]);
  });
});

/** An object as written: its keys in order, a key maybe twice; a leaf as its JSON text. */
type Written2 = string | { list: Written2[] } | { pairs: [string, Written2][] };
const textOf = (w: Written2): string => (typeof w === 'string' ? w : 'list' in w ? `[${w.list.map(textOf).join(',')}]` : `{${w.pairs.map(([k, v]) => `${JSON.stringify(k)}:${textOf(v)}`).join(',')}}`);
/** what a client reads that keeps the first (or the last) of a repeated key, keys sorted */
const readAs = (w: Written2, first: boolean): string => {
  if (typeof w === 'string') return w;
  if ('list' in w) return `[${w.list.map((x) => readAs(x, first)).join(',')}]`;
  const kept = new Map<string, Written2>();
  for (const [k, v] of w.pairs) if (!first || !kept.has(k)) kept.set(k, v);
  return `{${[...kept.keys()].sort().map((k) => `${k}:${readAs(kept.get(k)!, first)}`).join(',')}}`;
};
/** the body without repeats, each key's first (or last) value kept: as JSON.parse reads it, for the last */
const oneEach = (w: Written2, first: boolean): Written2 => {
  if (typeof w === 'string') return w;
  if ('list' in w) return { list: w.list.map((x) => oneEach(x, first)) };
  const kept = new Map<string, Written2>();
  for (const [k, v] of w.pairs) if (!first || !kept.has(k)) kept.set(k, oneEach(v, first));
  return { pairs: [...kept] };
};

describe('a key given twice, whatever its values', () => {
  it('values lossless-json takes for one (it compares objects by their keys alone) are two', () => {
    expect(same('{"a":{},"a":[]}', '{"a":[]}')).toBe(false);
    expect(same('{"a":[1],"a":{"0":1}}', '{"a":{"0":1}}')).toBe(false);
    expect(same('{"a":[{}],"a":[[]]}', '{"a":[[]]}')).toBe(false);
    expect(same('{"a":1,"a":2,"a":{"values":[1,2]}}', '{"a":{"values":[1,2]}}')).toBe(false);
    expect(same('{"n":12345678901234567,"n":{"text":"12345678901234567","canonical":"12345678901234567e16"}}', '{"n":{"text":"12345678901234567","canonical":"12345678901234567e16"}}')).toBe(false);
    expect(compare('{"a":{},"a":[]}', '{"a":[]}').diff).toEqual([{ path: '/a', kind: 'changed', legacy: { '‹repeated key›': [{}, []] }, target: [] }]);
    // the same value twice is one, however read
    expect(same('{"a":[1],"a":[1],"n":12345678901234567}', '{"a":[1],"n":12345678901234567}')).toBe(true);
    expect(same('{"a":{"b":1,"c":[]},"a":{"c":[],"b":1}}', '{"a":{"b":1,"c":[]}}')).toBe(true);
  });

  it('two bodies a client reading the first or the last of each key reads apart never match', () => {
    // leaves with one text per value: equal texts are equal values
    const leaf = fc.constantFrom('0', '1', '"x"', '"0"', 'null', 'true', '[]', '{}', '[1]', '{"0":1}', '12345678901234567', '12345678901234568', '{"values":[1,2]}');
    const { node } = fc.letrec<{ node: Written2 }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.array(tie('node'), { maxLength: 3 }).map((list) => ({ list })),
        fc.array(fc.tuple(fc.constantFrom('a', 'b', '0', '__proto__'), tie('node')), { maxLength: 4 }).map((pairs) => ({ pairs })),
      ),
    }));
    fc.assert(
      fc.property(node, node, (a, other) => {
        // against another body, and against the same without its repeats (first or last kept)
        for (const b of [other, oneEach(a, true), oneEach(a, false)]) {
          const [ta, tb] = [textOf(a), textOf(b)];
          if (readAs(a, true) !== readAs(b, true) || readAs(a, false) !== readAs(b, false)) expect(same(ta, tb), `${ta} vs ${tb}`).toBe(false);
        }
        expect(same(textOf(a), textOf(a))).toBe(true);
      }),
      { numRuns: 600 },
    );
  });
});
