/**
 * Reads the JSON of a compared body so that two different answers never read the same
 * (exact-values.ts): numbers by their exact value, a repeated key seen with each of its values.
 * The gateway's shadow capture and the HL7 adapter's record reads both read bodies here.
 *
 * The shadow path reads every compared body, so JSON.parse still reads it whenever one pass over
 * the text finds nothing it would lose: no number of 16 characters or more (a double holds every
 * value of up to 15 digits) or with an exponent of three digits, and as many keys in the text as
 * in what JSON.parse made of it (a key given twice is one key there). Else lossless-json reads
 * it, about four times as slow as JSON.parse; the pass and the count cost about one JSON.parse
 * more (figures in README, "Shadow traffic, parity and the flip gate"). What lossless-json made
 * is counted too: a key missing there is a repeat it took for the same value, and strict-json.ts
 * reads the body again.
 */
import { parse, type DuplicateKeyInfo } from 'lossless-json';
import { ExactNumber, numberOf, RepeatedKey } from './exact-values.js';
import { parseStrictJson } from './strict-json.js';

/** The JSON of a body with exact numbers and repeated keys seen; throws a SyntaxError when it is not JSON. */
export function parseComparedJson(text: string): unknown {
  const keys = keysWhenPlain(text);
  if (keys !== undefined) {
    const value = JSON.parse(text) as unknown;
    if (keys === countKeys(value)) return value;
  }
  const value = parse(text, null, { parseNumber: numberOf, onDuplicateKey: repeated });
  const read = typeof value === 'object' && value !== null ? countReadKeys(value) : 0;
  return colonsAfterQuotes(text) === read ? value : parseStrictJson(text);
}

function repeated({ oldValue, newValue }: DuplicateKeyInfo): RepeatedKey {
  return new RepeatedKey(oldValue instanceof RepeatedKey ? [...oldValue.values, newValue] : [oldValue, newValue]);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const DOT = 0x2e;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * How many keys the text gives (a string followed by a colon), or undefined when JSON.parse
 * could lose a number's value: a run of 16 digits and points, or an exponent of 3 digits, outside
 * strings. A text that is not JSON may count anything: JSON.parse or lossless-json refuses it.
 */
function keysWhenPlain(text: string): number | undefined {
  let keys = 0;
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      let end = i + 1;
      for (;;) {
        end = text.indexOf('"', end);
        if (end < 0) return undefined;
        let slashes = 0;
        while (text.charCodeAt(end - 1 - slashes) === BACKSLASH) slashes++;
        if (slashes % 2 === 0) break;
        end++;
      }
      let next = end + 1;
      while (isSpace(text.charCodeAt(next))) next++;
      if (text.charCodeAt(next) === COLON) keys++;
      i = end;
      run = 0;
    } else if (isDigit(c) || c === DOT) {
      if (++run >= 16) return undefined;
    } else if ((c === 0x65 || c === 0x45) && run > 0) {
      let at = i + 1;
      if (text.charCodeAt(at) === 0x2b || text.charCodeAt(at) === 0x2d) at++;
      let digits = 0;
      while (isDigit(text.charCodeAt(at + digits))) digits++;
      if (digits >= 3) return undefined;
      run = 0;
    } else run = 0;
  }
  return keys;
}

/**
 * The colons after a quote (white space between): every key's, and any in a string that holds
 * `":`. Never fewer than the keys, so as many as lossless-json kept means it dropped none; the
 * rare string with `":` costs a second read. Native indexOf: a third of the pass above.
 */
function colonsAfterQuotes(text: string): number {
  let n = 0;
  for (let i = text.indexOf(':'); i >= 0; i = text.indexOf(':', i + 1)) {
    let j = i - 1;
    while (isSpace(text.charCodeAt(j))) j--;
    if (text.charCodeAt(j) === QUOTE) n++;
  }
  return n;
}

/** The keys of every object in a parsed value. */
function countKeys(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0;
  let n = 0;
  if (Array.isArray(v)) {
    for (const x of v) if (typeof x === 'object' && x !== null) n += countKeys(x);
    return n;
  }
  for (const x of Object.values(v)) {
    n++;
    if (typeof x === 'object' && x !== null) n += countKeys(x);
  }
  return n;
}

/** The keys of every object lossless-json made, a repeated key's once per value (for-in: twice as fast as Object.values). */
function countReadKeys(v: object): number {
  let n = 0;
  if (Array.isArray(v)) {
    for (const x of v as unknown[]) if (typeof x === 'object' && x !== null) n += countReadKeys(x);
    return n;
  }
  if (v instanceof ExactNumber) return 0;
  const o = v as Record<string, unknown>;
  for (const k in o) {
    if (!Object.hasOwn(o, k)) continue;
    const x = o[k];
    if (x instanceof RepeatedKey) for (const y of x.values) n += 1 + (typeof y === 'object' && y !== null ? countReadKeys(y) : 0);
    else n += 1 + (typeof x === 'object' && x !== null ? countReadKeys(x) : 0);
  }
  return n;
}
