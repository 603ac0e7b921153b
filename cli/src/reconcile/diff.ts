/**
 * Where two records differ, as field paths (`lastName`, `address.zip`, `items[2].value`). Keys
 * are matched by name, whatever their order; arrays element by element, in order; numbers,
 * strings, booleans and null by identity (1 and "1" differ: the contract fixes the types).
 */
import { isObject, type Json } from './canonical.js';

/** One differing field; a side where the field is absent has no value (undefined). */
export interface FieldDifference {
  /** '' when the records differ as a whole (an object on one side, something else on the other) */
  path: string;
  legacy: Json | undefined;
  service: Json | undefined;
}

const keyPath = (at: string, key: string) => (at ? `${at}.${key}` : key);

function walk(a: Json | undefined, b: Json | undefined, at: string, out: FieldDifference[]): void {
  if (a === b) return;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) walk(a[i], b[i], `${at}[${i}]`, out);
    return;
  }
  if (isObject(a) && isObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) walk(a[k], b[k], keyPath(at, k), out);
    return;
  }
  out.push({ path: at, legacy: a, service: b });
}

/** Every field where `legacy` and `service` differ, in the legacy record's key order. */
export function fieldDifferences(legacy: Json, service: Json): FieldDifference[] {
  const out: FieldDifference[] = [];
  walk(legacy, service, '', out);
  return out;
}
