/**
 * The values a compared JSON body holds besides plain JSON (json-body.ts reads them): a number a
 * double cannot hold, kept as written, and a key an object gives more than once with different
 * values. Parsed into doubles and last-key-wins, as JSON.parse reads a body, an account number
 * 9007199254740993 against a service's 9007199254740992 compared equal, and so did
 * `{"a":1,"a":2}` against `{"a":2}`, though a client that reads the first key sees 1.
 *
 * Numbers compare by their exact decimal value: `1.0`, `1` and `1e0` are one value (as `-0` and
 * `0` are), `0.1000000000000000001` and `0.1` are two. A number whose value a double holds (its
 * shortest text is the same value) stays a plain number, so most bodies hold nothing else.
 */
import { compareNumber } from 'lossless-json';

/** A number whose exact value no double holds (more digits, or beyond a double's range). */
export class ExactNumber {
  /** one text for one value, whatever its spelling (9007199254740993.0 is 9007199254740993) */
  readonly canonical: string;

  constructor(readonly text: string) {
    this.canonical = canonicalOf(text);
  }

  /** stored and served as its digits between ‹ ›, a string every JSON reader keeps exactly */
  toJSON(): string {
    return `‹${this.text}›`;
  }
}

/** The key of a repeated key's values in a diff as JSON. */
export const REPEATED_KEY = '‹repeated key›';

/** A key given more than once in one object with different values: each value, in order. */
export class RepeatedKey {
  constructor(readonly values: unknown[]) {}

  toJSON(): Record<string, unknown[]> {
    return { [REPEATED_KEY]: this.values };
  }
}

const NUMBER_TEXT = /^(-?)(\d+)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * Sign, significant digits and the exponent of the first: `-9007199254740993e15`, `0` for any
 * zero. The exponent by BigInt: parsed into a double (lossless-json's splitNumber), exponents of
 * 21 digits or more rounded, and 1e100000000000000000000 was 1e100000000000000000001.
 */
function canonicalOf(text: string): string {
  const m = NUMBER_TEXT.exec(text);
  if (!m) throw new SyntaxError(`not a JSON number: ${text.slice(0, 40)}`);
  const whole = m[2]!;
  const coefficient = whole + (m[3] ?? '');
  const first = coefficient.search(/[1-9]/);
  if (first < 0) return '0';
  const digits = coefficient.slice(first).replace(/0+$/, '');
  const exponent = BigInt(m[4] ?? 0) + BigInt(whole.length - 1 - first);
  return `${m[1]}${digits}e${exponent}`;
}

/** The value of a number's text: a plain number when a double holds it exactly, else as written. */
export function numberOf(text: string): number | ExactNumber {
  const n = Number(text);
  // up to 15 characters without an exponent: at most 15 digits, which a double always holds
  if (text.length <= 15 && !text.includes('e') && !text.includes('E')) return n;
  return Number.isFinite(n) && compareNumber(text, String(n)) === 0 ? n : new ExactNumber(text);
}

/** A JSON object, not an array, null, or one of the values above. */
export function isJsonObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof ExactNumber) && !(v instanceof RepeatedKey);
}

/** Whether two leaves (anything but arrays and objects) are the same value. */
export function sameLeaf(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof ExactNumber) return b instanceof ExactNumber && a.canonical === b.canonical;
  return Number.isNaN(a) && Number.isNaN(b);
}

/**
 * A diff's values as kept and shown (DiffEntry): JSON, where a string or key that begins with ‹
 * is a marker: `‹digits›` a number no double holds, the key `‹repeated key›` a repeated key's
 * values, `‹string›`, `‹number›`... a redacted value. A body's own string or key that begins
 * with ‹ is kept with one ‹ more in front, so that its "‹9007199254740993›" never reads as the
 * number a service gave (it did: in the stored diff and in the text, the same on both sides).
 */
export function storedValue(v: unknown): unknown {
  if (typeof v === 'string') return escapeText(v);
  if (v instanceof ExactNumber) return v.toJSON();
  if (v instanceof RepeatedKey) return { [REPEATED_KEY]: v.values.map(storedValue) };
  if (Array.isArray(v)) return v.map(storedValue);
  if (isJsonObject(v)) return mapObject(v, escapeText, storedValue);
  return v;
}

const escapeText = (s: string) => (s.startsWith('‹') ? `‹${s}` : s);

/** Sets a key as JSON.parse does: `__proto__` too, which assigned sets the prototype and is no key (two bodies that differed in it matched). */
export function setOwnKey(o: Record<string, unknown>, k: string, value: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
  else o[k] = value;
}

function mapObject(v: Record<string, unknown>, key: (k: string) => string, value: (x: unknown) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) setOwnKey(out, key(k), value(x));
  return out;
}

/** A marker for a number no double holds (ExactNumber.toJSON): `‹9007199254740993›`. */
const EXACT_TEXT = /^‹(-?\d[\d.eE+-]*)›$/;

/** The shape of a diff's value with every leaf replaced by its type: what a sample keeps by default. */
export function shapeOf(v: unknown): unknown {
  if (v instanceof ExactNumber || v instanceof RepeatedKey) return shapeOf(storedValue(v));
  if (typeof v === 'string') return EXACT_TEXT.test(v) ? '‹number›' : '‹string›';
  if (Array.isArray(v)) return v.slice(0, 20).map(shapeOf);
  if (isJsonObject(v)) return mapObject(v, (k) => k, shapeOf);
  if (v === null) return '‹null›';
  return `‹${typeof v}›`;
}

/**
 * A diff's value for people: JSON, a body's strings and keys quoted as they are, markers bare: a
 * number no double holds as its digits, `{‹repeated key›:["7","9"]}`, `‹string›`. Diffs stored
 * before the escape read as they did, but for a body's string that began with ‹ (a marker then too).
 */
export function showValue(v: unknown): string {
  if (v instanceof ExactNumber || v instanceof RepeatedKey) return showValue(storedValue(v));
  if (typeof v === 'string') return v.startsWith('‹') ? showMarked(v) : JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => (isJsonValue(x) ? showValue(x) : 'null')).join(',')}]`;
  if (isJsonObject(v)) {
    const entries = Object.entries(v).filter(([, x]) => isJsonValue(x));
    return `{${entries.map(([k, x]) => `${k.startsWith('‹') ? showMarked(k) : JSON.stringify(k)}:${showValue(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? String(v);
}

/** A string or key that begins with ‹: a body's own (escaped) quoted, a marker bare, a number's as its digits. */
function showMarked(s: string): string {
  if (s.startsWith('‹‹')) return JSON.stringify(s.slice(1));
  return s.replace(EXACT_TEXT, '$1');
}

/** What JSON.stringify keeps in an object (an ignored list item, a symbol, is null in a list). */
const isJsonValue = (x: unknown) => x !== undefined && typeof x !== 'symbol' && typeof x !== 'function';
