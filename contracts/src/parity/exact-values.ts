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
import { compareNumber, splitNumber } from 'lossless-json';

/** A number whose exact value no double holds (more digits, or beyond a double's range). */
export class ExactNumber {
  /** one text for one value, whatever its spelling (9007199254740993.0 is 9007199254740993) */
  readonly canonical: string;

  constructor(readonly text: string) {
    const s = splitNumber(text);
    this.canonical = `${s.sign}${s.digits}e${s.exponent}`;
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

/** A number as a diff holds it once stored (ExactNumber.toJSON): `‹9007199254740993›`. */
const EXACT_TEXT = /^‹(-?\d[\d.eE+-]*)›$/;
const QUOTED_EXACT_TEXT = /"‹(-?\d[\d.eE+-]*)›"/g;

/**
 * A diff's value for people: a number no double holds as its digits, whether the value is in
 * memory or read back from the store; a redacted shape (`‹string›`) as it is; the rest as JSON.
 */
export function showValue(v: unknown): string {
  if (typeof v === 'string' && v.startsWith('‹')) return v.replace(EXACT_TEXT, '$1');
  return (JSON.stringify(v) ?? String(v)).replace(QUOTED_EXACT_TEXT, '$1');
}
