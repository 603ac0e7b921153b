/**
 * The rare body lossless-json reads wrong (json-body.ts finds it by its keys): a key given twice
 * whose two values lossless-json's deep equality takes for one, as it compares every object by
 * its keys alone: `{}` and `[]`, `[1]` and `{"0":1}`, a long number and an object of its fields.
 * It kept the last value and dropped the first unseen, so `{"a":{},"a":[]}` matched `{"a":[]}`
 * though a client that reads the first key sees an object. Read here again, each repeat compared
 * strictly; otherwise as lossless-json reads (numbers by numberOf, the same repeats kept).
 */
import { ExactNumber, isJsonObject, numberOf, RepeatedKey, setOwnKey } from './exact-values.js';

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const SPACE = /[ \t\n\r]*/y;

/** The JSON of a text lossless-json has read once already; throws a SyntaxError where it is not JSON. */
export function parseStrictJson(text: string): unknown {
  let at = 0;
  const fail = (): never => {
    throw new SyntaxError(`not JSON at position ${at}`);
  };
  const space = () => {
    SPACE.lastIndex = at;
    SPACE.exec(text);
    at = SPACE.lastIndex;
  };
  const literal = <T>(word: string, v: T): T => (text.startsWith(word, at) ? ((at += word.length), v) : fail());

  function string(): string {
    if (text[at] !== '"') fail();
    let end = at + 1;
    for (;;) {
      end = text.indexOf('"', end);
      if (end < 0) fail();
      let slashes = 0;
      while (text[end - 1 - slashes] === '\\') slashes++;
      if (slashes % 2 === 0) break;
      end++;
    }
    const s = JSON.parse(text.slice(at, end + 1)) as string;
    at = end + 1;
    return s;
  }

  function object(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    at++;
    space();
    if (text[at] === '}') return (at++, out);
    for (;;) {
      space();
      const k = string();
      space();
      if (text[at++] !== ':') fail();
      const v = value();
      if (!Object.hasOwn(out, k)) setOwnKey(out, k, v);
      else {
        const old = out[k];
        setOwnKey(out, k, old instanceof RepeatedKey ? new RepeatedKey([...old.values, v]) : same(old, v) ? v : new RepeatedKey([old, v]));
      }
      space();
      const c = text[at++];
      if (c === '}') return out;
      if (c !== ',') fail();
    }
  }

  function array(): unknown[] {
    const out: unknown[] = [];
    at++;
    space();
    if (text[at] === ']') return (at++, out);
    for (;;) {
      out.push(value());
      space();
      const c = text[at++];
      if (c === ']') return out;
      if (c !== ',') fail();
    }
  }

  function value(): unknown {
    space();
    const c = text[at];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    if (c === 't') return literal('true', true);
    if (c === 'f') return literal('false', false);
    if (c === 'n') return literal('null', null);
    NUMBER.lastIndex = at;
    const m = NUMBER.exec(text) ?? fail();
    at = NUMBER.lastIndex;
    return numberOf(m[0]);
  }

  const v = value();
  space();
  if (at !== text.length) fail();
  return v;
}

/** Equal as lossless-json means it, an array never an object: a number by its text, as it was written. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a instanceof ExactNumber || b instanceof ExactNumber) return a instanceof ExactNumber && b instanceof ExactNumber && a.text === b.text;
  if (a instanceof RepeatedKey || b instanceof RepeatedKey) return a instanceof RepeatedKey && b instanceof RepeatedKey && same(a.values, b.values);
  if (!isJsonObject(a) || !isJsonObject(b)) return false;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && same(a[k], b[k]));
}
