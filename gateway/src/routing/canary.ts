/**
 * Sticky canary split. A key (an MRN, a user id, a session cookie) is hashed into one of
 * 10,000 buckets, independently of the percent: a key goes to the new service when its bucket
 * is below percent × 100. Raising the percent therefore only ever moves keys from legacy to
 * new, and one patient never flips back and forth while the percent holds or grows.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Sticky } from '@ficus/contracts';
import { cookieValue, foldedQuery, queryParam, type RequestTarget } from './request-target.js';

export const BUCKETS = 10_000;
export const DEFAULT_SALT = 'ficus';

/**
 * MurmurHash3 (x86, 32-bit) of the UTF-16 code units of `salt + "\0" + key`: a well-studied,
 * well-mixed non-cryptographic hash, about 20× cheaper here than SHA-256 and as uniform for
 * this purpose (the split is proven within 2 points over 10,000 keys in the tests). The
 * function is part of the contract: changing it would move patients between sides.
 */
export function bucketOf(salt: string, key: string): number {
  return murmur3(salt + '\u0000' + key, 0x9747b28c) % BUCKETS;
}

function murmur3(s: string, seed: number): number {
  let h = seed >>> 0;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const len = s.length;
  let i = 0;
  // two UTF-16 code units per 32-bit block
  for (; i + 1 < len; i += 2) {
    let k = (s.charCodeAt(i) & 0xffff) | ((s.charCodeAt(i + 1) & 0xffff) << 16);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  if (i < len) {
    let k = s.charCodeAt(i) & 0xffff;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= len * 2;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function thresholdOf(percent: number): number {
  return Math.round(percent * 100);
}

export type StickyKeyReader = (headers: IncomingHttpHeaders, target: RequestTarget, paramIndex: number, rawHeaders: readonly string[]) => string | undefined;

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : s;
}

/**
 * The key in header `name` (lower case). Node joins the copies of a repeated header with ", ",
 * so `x-user-id: nurse1` sent twice would be the key "nurse1, nurse1", on whichever side that
 * hashes to; and copies that differ name no one user (an upstream may read the first or the
 * last). So copies that all agree are that key, copies that differ are no key (legacy). The raw
 * list is read only when the joined value could be a join: one header whose value holds ", "
 * is that value.
 */
function headerKey(headers: IncomingHttpHeaders, name: string, rawHeaders: readonly string[]): string | undefined {
  const joined = headers[name];
  if (typeof joined !== 'string') return undefined; // an array is set-cookie's, a response header
  if (!joined.includes(', ')) return nonEmpty(joined);
  let key: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const n = rawHeaders[i]!;
    if (n.length !== name.length || n.toLowerCase() !== name) continue;
    if (key === undefined) key = rawHeaders[i + 1]!;
    else if (rawHeaders[i + 1] !== key) return undefined;
  }
  return nonEmpty(key ?? joined);
}

/**
 * Builds the function that reads a rule's sticky key from a request; `foldQueryNames`: a query
 * key's name regardless of case (foldedQuery), as the legacy reads it, or `?MRN=` would be no
 * key and that patient's requests would go to legacy and `?mrn=` ones maybe not.
 */
export function stickyKeyReader(sticky: Sticky, foldQueryNames = false): StickyKeyReader {
  if (sticky.header !== undefined) {
    const name = sticky.header.toLowerCase();
    return (headers, _t, _p, rawHeaders) => headerKey(headers, name, rawHeaders);
  }
  if (sticky.param !== undefined) return (_h, target, paramIndex) => (paramIndex < 0 ? undefined : nonEmpty(target.segments[paramIndex]));
  if (sticky.query !== undefined) {
    if (foldQueryNames) {
      const folded = sticky.query.toLowerCase();
      return (_h, target) => nonEmpty(queryParam(foldedQuery(target), folded));
    }
    const name = sticky.query;
    return (_h, target) => nonEmpty(queryParam(target.query, name));
  }
  const name = sticky.cookie ?? '';
  return (headers) => nonEmpty(cookieValue(headers.cookie, name));
}
