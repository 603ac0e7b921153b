/**
 * Records as reconciliation sees them: JSON values whose object key order does not matter
 * (two systems may serialise the same row with keys in another order) while array order does
 * (the contract fixes it: newest first, then the higher id). Fields the operator chose to
 * leave out (`--ignore`) are removed before anything is hashed or compared.
 */
import { createHash } from 'node:crypto';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * What `--ignore` left out. A bare name (`lastUpdated`) is that key at any depth; a dotted
 * path (`ward.description`) is that key under that path from the record's root. Arrays are
 * transparent: `items.value` reaches `value` in every element of `items`.
 */
export interface IgnoreSpec {
  names: ReadonlySet<string>;
  paths: ReadonlySet<string>;
}

export const IGNORE_NOTHING: IgnoreSpec = { names: new Set(), paths: new Set() };

const FIELD_PATH = /^[A-Za-z_$][\w$-]*(\.[A-Za-z_$][\w$-]*)*$/;

export function isFieldPath(value: string): boolean {
  return FIELD_PATH.test(value);
}

export function ignoreSpec(fields: readonly string[]): IgnoreSpec {
  const names = new Set<string>();
  const paths = new Set<string>();
  for (const f of fields) (f.includes('.') ? paths : names).add(f);
  return { names, paths };
}

function strip(value: Json, at: string, ignore: IgnoreSpec): Json {
  if (Array.isArray(value)) return value.map((v) => strip(v, at, ignore));
  if (value === null || typeof value !== 'object') return value;
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(value)) {
    const path = at ? `${at}.${k}` : k;
    if (ignore.names.has(k) || ignore.paths.has(path)) continue;
    out[k] = strip(v, path, ignore);
  }
  return out;
}

/** The record without the ignored fields (a copy; the record is left as it is). */
export function withoutIgnored(value: Json, ignore: IgnoreSpec): Json {
  if (ignore.names.size === 0 && ignore.paths.size === 0) return value;
  return strip(value, '', ignore);
}

/** JSON with every object's keys in code-unit order: equal records, equal text. */
export function canonicalJson(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k]!)}`).join(',')}}`;
}

/** SHA-256 (hex) of the canonical JSON: one record's fingerprint. */
export function recordHash(value: Json): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/** Whether a value parsed from an answer is a JSON object (not null, not an array). */
export function isObject(value: unknown): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
