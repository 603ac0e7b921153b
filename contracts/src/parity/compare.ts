/**
 * Compares what legacy answered with what the new service answered: status, chosen headers,
 * JSON bodies by structure (ignored paths, value normalizers, arrays ordered by a key), other
 * bodies by SHA-256. Pure functions: the same code compares shadowed HTTP answers in the
 * gateway and the records read after an HL7 message in the adapter.
 *
 * The answer names every differing path; `fieldOf` folds array indexes so that the paths add
 * up into "top differing fields". A body's numbers compare by their exact value and a key given
 * twice with different values is a difference at its path (exact-values.ts, json-body.ts).
 */
import type { CompareNormalizer, CompareSettings } from '../rules/model.js';
import { alignItems } from './array-alignment.js';
import { ExactNumber, isJsonObject as isObject, numberOf, RepeatedKey, sameLeaf, setOwnKey, shapeOf, showValue, storedValue } from './exact-values.js';
import { compilePath, compilePaths, escapeSegment, fieldOf, type PathMatcher } from './json-paths.js';
import { sameHeader } from './header-values.js';
import { DEFAULT_COMPARED_HEADERS } from './settings.js';

export type ObservedBody =
  /** parsed JSON (the whole body was within the limit), by parseComparedJson */
  | { kind: 'json'; value: unknown; sha256: string }
  /** any other body, or one over the limit: its digest only */
  | { kind: 'bytes'; sha256: string; bytes: number }
  | { kind: 'none' };

/** One side's answer, as much of it as the comparison needs. */
export interface Observed {
  /** 0 when there was no answer */
  status: number;
  /** why there was no answer: timeout, connection refused... */
  error?: string;
  /** the compared headers only, names in lower case */
  headers: Record<string, string | undefined>;
  body: ObservedBody;
}

export interface DiffEntry {
  /** `status`, `header:content-type`, `body` (by digest) or a JSON pointer into the body (`""` is the root) */
  path: string;
  kind: 'changed' | 'added' | 'removed';
  /**
   * as kept (storedValue): JSON, a number no double holds as `"‹digits›"`, a repeated key as
   * `{"‹repeated key›": [...]}`, a body's own string or key that begins with ‹ with one ‹ more
   */
  legacy?: unknown;
  target?: unknown;
}

export interface Comparison {
  match: boolean;
  /** the differing fields, array indexes folded (`/items/*\/id`), each once */
  fields: string[];
  diff: DiffEntry[];
  /** fields that differed between two legacy answers, and were not counted */
  noise: string[];
}

interface Normalizer {
  kind: CompareNormalizer;
  where: PathMatcher | null;
}

export interface CompiledCompare {
  headers: string[];
  /** compared too in an answer to HEAD (HEAD_BODY_HEADERS unless the rule says) */
  headHeaders: string[];
  ignore: PathMatcher;
  normalizers: Normalizer[];
  arrayKeys: { where: PathMatcher; key: string }[];
}

export function compileCompare(s: CompareSettings | undefined): CompiledCompare {
  return {
    headers: (s?.headers ?? DEFAULT_COMPARED_HEADERS).map((h) => h.toLowerCase()),
    headHeaders: (s?.headHeaders ?? HEAD_BODY_HEADERS).map((h) => h.toLowerCase()),
    ignore: s?.ignore?.length ? compilePaths(s.ignore) : () => false,
    normalizers: (s?.normalize ?? []).map((n) => (typeof n === 'string' ? { kind: n, where: null } : { kind: n.kind, where: compilePaths(n.paths) })),
    arrayKeys: Object.entries(s?.arrayKeys ?? {}).map(([path, key]) => ({ where: compilePath(path), key })),
  };
}

/**
 * What stands for the body in an answer to HEAD, which has none: compared besides the rule's
 * headers. Status and content type alone made a HEAD of a patient whose birth date differed a
 * match, counted as evidence for the flip; the services serve the legacy's ETag (a hash of the
 * exact bytes), so equal bodies have equal tags and lengths. A service with ETags of its own
 * would mismatch on every HEAD: its rule names less (`compare.headHeaders`).
 */
export const HEAD_BODY_HEADERS = ['content-length', 'etag'];

const forHead = new WeakMap<CompiledCompare, CompiledCompare>();

/** The comparison of the answers to one request: for HEAD, the rule's headers and its headHeaders. */
export function compareForMethod(cc: CompiledCompare, method: string): CompiledCompare {
  if (method !== 'HEAD') return cc;
  let head = forHead.get(cc);
  if (!head) {
    head = { ...cc, headers: [...new Set([...cc.headers, ...cc.headHeaders])] };
    forHead.set(cc, head);
  }
  return head;
}

const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NUMERIC = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

function normalizeLeaf(v: unknown, segments: readonly string[], normalizers: Normalizer[]): unknown {
  let out = v;
  for (const n of normalizers) {
    if (n.where && !n.where(segments)) continue;
    switch (n.kind) {
      case 'timestamps':
        if (typeof out === 'string' && ISO_TIMESTAMP.test(out)) out = '<timestamp>';
        break;
      case 'uuids':
        if (typeof out === 'string' && UUID.test(out)) out = '<uuid>';
        break;
      case 'numbers-as-strings':
        if (typeof out === 'string' && NUMERIC.test(out)) out = numberOf(out);
        break;
      case 'trim':
        if (typeof out === 'string') out = out.trim();
        break;
      case 'case-insensitive':
        if (typeof out === 'string') out = out.toLowerCase();
        break;
    }
  }
  return out;
}

function sortKey(v: unknown, key: string): string {
  const k = isObject(v) && Object.hasOwn(v, key) ? v[key] : undefined;
  if (k instanceof ExactNumber) return k.canonical;
  return k === undefined ? '\uffff' : JSON.stringify(k);
}

/** A copy with ignored paths removed, normalizers applied and keyed arrays sorted. */
export function normalizeJson(value: unknown, cc: CompiledCompare, segments: string[] = []): unknown {
  if (value instanceof RepeatedKey) {
    // values the rule deems equal (trimmed, a timestamp...) read the same whichever a client takes
    const values = value.values.map((v) => normalizeJson(v, cc, segments));
    return values.every((v) => sameJson(v, values[0])) ? values[0] : new RepeatedKey(values);
  }
  if (Array.isArray(value)) {
    let items = value.map((v, i) => (cc.ignore([...segments, String(i)]) ? IGNORED : normalizeJson(v, cc, [...segments, String(i)])));
    const keyed = cc.arrayKeys.find((a) => a.where(segments));
    if (keyed) items = [...items].sort((a, b) => (sortKey(a, keyed.key) < sortKey(b, keyed.key) ? -1 : sortKey(a, keyed.key) > sortKey(b, keyed.key) ? 1 : 0));
    return items;
  }
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const at = [...segments, k];
      if (!cc.ignore(at)) setOwnKey(out, k, normalizeJson(v, cc, at));
    }
    return out;
  }
  return cc.normalizers.length ? normalizeLeaf(value, segments, cc.normalizers) : value;
}

/** Stands for an ignored array element: position kept, value not compared. */
const IGNORED = Symbol('ignored');

/** Whether two normalized JSON values have no difference (diffJson would find none). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === IGNORED || b === IGNORED) return true;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && sameJson(a[k], b[k]));
  }
  if (a instanceof RepeatedKey || b instanceof RepeatedKey) {
    return a instanceof RepeatedKey && b instanceof RepeatedKey && a.values.length === b.values.length && a.values.every((x, i) => sameJson(x, b.values[i]));
  }
  return sameLeaf(a, b);
}

/**
 * Leaf-level differences between two normalized JSON values. Array items are paired with their
 * equals (array-alignment.ts); a path names legacy's index, the new service's for an item only
 * it has.
 */
export function diffJson(a: unknown, b: unknown, path = ''): DiffEntry[] {
  if (a === IGNORED || b === IGNORED) return [];
  if (Array.isArray(a) && Array.isArray(b)) {
    const out: DiffEntry[] = [];
    // the equal items at either end set aside, the rest aligned on their equals: a stay missing
    // at the top read as every field of every stay changed, a page shifted by one patient as
    // every field of every row
    let head = 0;
    while (head < a.length && head < b.length && sameJson(a[head], b[head])) head++;
    let tail = 0;
    while (tail < a.length - head && tail < b.length - head && sameJson(a[a.length - 1 - tail], b[b.length - 1 - tail])) tail++;
    for (const step of alignItems(a, b, head, a.length - tail, b.length - tail)) {
      if (step.kind === 'added') {
        if (b[step.target] !== IGNORED) out.push({ path: `${path}/${step.target}`, kind: 'added', target: storedValue(b[step.target]) });
      } else if (step.kind === 'removed') {
        if (a[step.legacy] !== IGNORED) out.push({ path: `${path}/${step.legacy}`, kind: 'removed', legacy: storedValue(a[step.legacy]) });
      } else out.push(...diffJson(a[step.legacy], b[step.target], `${path}/${step.legacy}`));
    }
    return out;
  }
  if (isObject(a) && isObject(b)) {
    const out: DiffEntry[] = [];
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const p = `${path}/${escapeSegment(k)}`;
      // own keys only: `k in b` found toString in {} and compared a body's 1 with a function
      if (!Object.hasOwn(b, k)) out.push({ path: p, kind: 'removed', legacy: storedValue(a[k]) });
      else if (!Object.hasOwn(a, k)) out.push({ path: p, kind: 'added', target: storedValue(b[k]) });
      else out.push(...diffJson(a[k], b[k], p));
    }
    return out;
  }
  if (sameJson(a, b)) return [];
  return [{ path, kind: 'changed', legacy: storedValue(a), target: storedValue(b) }];
}

function bodyDiff(a: ObservedBody, b: ObservedBody, cc: CompiledCompare): DiffEntry[] {
  if (a.kind === 'json' && b.kind === 'json') return diffJson(normalizeJson(a.value, cc), normalizeJson(b.value, cc));
  if (a.kind === 'none' && b.kind === 'none') return [];
  const digest = (x: ObservedBody) => (x.kind === 'none' ? undefined : x.sha256);
  if (digest(a) !== undefined && digest(a) === digest(b)) return [];
  const describe = (x: ObservedBody) => (x.kind === 'none' ? null : x.kind === 'json' ? `json sha256:${x.sha256.slice(0, 12)}` : `${x.bytes} bytes sha256:${x.sha256.slice(0, 12)}`);
  return [{ path: 'body', kind: 'changed', legacy: describe(a), target: describe(b) }];
}

/** Every difference of two answers, unfiltered. */
export function diffObserved(a: Observed, b: Observed, cc: CompiledCompare): DiffEntry[] {
  // a 404 against a 200 is that, not also every field of the record against the error's: those
  // crowded the top differing fields with fields that did not differ
  if (a.status !== b.status || a.error !== b.error) {
    return [{ path: 'status', kind: 'changed', legacy: storedValue(a.error ?? a.status), target: storedValue(b.error ?? b.status) }];
  }
  const out: DiffEntry[] = [];
  // an answer that is not there has no headers or body to compare
  if (a.status === 0) return out;
  for (const h of cc.headers) {
    if (!sameHeader(h, a.headers[h], b.headers[h])) {
      const kind = a.headers[h] === undefined ? 'added' : b.headers[h] === undefined ? 'removed' : 'changed';
      out.push({ path: `header:${h}`, kind, legacy: storedValue(a.headers[h]), target: storedValue(b.headers[h]) });
    }
  }
  out.push(...bodyDiff(a.body, b.body, cc));
  return out;
}

const under = (path: string, prefix: string) => path === prefix || (path.startsWith(prefix) && (prefix === '' ? path.startsWith('/') : path[prefix.length] === '/'));

/**
 * Legacy's answer against the new service's. With `legacyAgain` (a second legacy answer to the
 * same request), whatever differs between the two legacy answers is noise and is not counted.
 */
export function compareObserved(legacy: Observed, target: Observed, cc: CompiledCompare, legacyAgain?: Observed): Comparison {
  let diff = diffObserved(legacy, target, cc);
  let noise: string[] = [];
  if (legacyAgain && legacyAgain.status !== 0) {
    const noisy = diffObserved(legacy, legacyAgain, cc).map((d) => d.path);
    noise = [...new Set(noisy.map(fieldOf))];
    diff = diff.filter((d) => !noisy.some((n) => under(d.path, n)));
  }
  const fields = [...new Set(diff.map((d) => fieldOf(d.path)))];
  return { match: diff.length === 0, fields, diff, noise };
}

/** A diff safe to keep: paths and value shapes, never values, unless `keepValues`. */
export function redactDiff(diff: DiffEntry[], keepValues: boolean): DiffEntry[] {
  if (keepValues) return diff;
  // status and the digest of a body say nothing about a patient; header values might (a filename)
  const safe = (d: DiffEntry) => d.path === 'status' || d.path === 'body';
  return diff.map((d) => {
    if (safe(d)) return d;
    const out: DiffEntry = { path: d.path, kind: d.kind };
    if ('legacy' in d) out.legacy = shapeOf(d.legacy);
    if ('target' in d) out.target = shapeOf(d.target);
    return out;
  });
}

/** A diff for people, one line per difference: `~ /name: ‹string› → ‹string›`, `~ /acct: 9007199254740993 → 9007199254740992`. */
export function formatDiff(diff: DiffEntry[]): string {
  return diff
    .map((d) => {
      const at = d.path === '' ? '(body)' : d.path;
      if (d.kind === 'added') return `+ ${at}: ${showValue(d.target)} (only in the new service)`;
      if (d.kind === 'removed') return `- ${at}: ${showValue(d.legacy)} (only in legacy)`;
      return `~ ${at}: ${showValue(d.legacy)} → ${showValue(d.target)}`;
    })
    .join('\n');
}
