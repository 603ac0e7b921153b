/**
 * Path patterns of HTTP rules: `/api/patients/:mrn`, `/files/*`, `/legacy/**`.
 *
 * A pattern is a list of segments. Literal segments compare exactly (case-sensitive unless the
 * gateway is told otherwise, after percent-decoding of the request path and without its path
 * parameters), `:name` matches one segment and captures it, `*` matches one segment, and `**`
 * (last only) matches zero or more segments. A trailing slash is not significant, so
 * `/api/patients/` and `/api/patients` are the same path, and neither is a run of slashes.
 */

export type Segment =
  | { kind: 'literal'; value: string }
  | { kind: 'param'; name: string }
  | { kind: 'any' }
  | { kind: 'rest' };

export interface PathPattern {
  source: string;
  segments: Segment[];
  /** true when the pattern ends in `**` */
  open: boolean;
  params: string[];
}

export class PatternError extends Error {}

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function parsePathPattern(source: string): PathPattern {
  if (!source.startsWith('/')) throw new PatternError('a path pattern starts with "/"');
  if (source.includes('?') || source.includes('#')) {
    throw new PatternError('a path pattern has no query or fragment; match the query with "query:"');
  }
  const raw = source === '/' ? [] : source.slice(1).replace(/\/$/, '').split('/');
  const segments: Segment[] = [];
  const params: string[] = [];
  raw.forEach((part, i) => {
    if (part === '') throw new PatternError(`empty segment (a double slash) in "${source}"`);
    if (part === '.' || part === '..') throw new PatternError(`dot segment "${part}" in "${source}"`);
    if (part === '**') {
      if (i !== raw.length - 1) throw new PatternError('"**" may only be the last segment');
      segments.push({ kind: 'rest' });
    } else if (part === '*') {
      segments.push({ kind: 'any' });
    } else if (part.startsWith(':')) {
      const name = part.slice(1);
      if (!PARAM_NAME.test(name)) throw new PatternError(`invalid parameter name "${name}"`);
      if (params.includes(name)) throw new PatternError(`parameter ":${name}" appears twice`);
      params.push(name);
      segments.push({ kind: 'param', name });
    } else if (part.includes('*') || part.includes(':')) {
      throw new PatternError(`"${part}": "*" and ":" must stand alone in a segment`);
    } else if (part.includes(';')) {
      // the gateway matches a path without its path parameters (as Tomcat maps it): this would never match
      throw new PatternError(`"${part}": path parameters (";…") are not matched; write the path without them`);
    } else {
      segments.push({ kind: 'literal', value: part });
    }
  });
  const last = segments[segments.length - 1];
  return { source, segments, open: last?.kind === 'rest', params };
}

function segmentCovers(a: Segment, b: Segment, foldCase: boolean): boolean {
  if (a.kind === 'literal') return b.kind === 'literal' && (foldCase ? b.value.toLowerCase() === a.value.toLowerCase() : b.value === a.value);
  if (a.kind === 'rest') return true;
  return b.kind !== 'rest';
}

/** true when every path that `b` matches is also matched by `a` (literals compared regardless of case: `foldCase`) */
export function patternCovers(a: PathPattern, b: PathPattern, foldCase = false): boolean {
  const fixedA = a.open ? a.segments.length - 1 : a.segments.length;
  const fixedB = b.open ? b.segments.length - 1 : b.segments.length;
  if (!a.open) {
    if (b.open || fixedA !== fixedB) return false;
  } else if (fixedB < fixedA) {
    // b can match a path shorter than a's fixed part (b is open early, or simply shorter)
    return false;
  }
  for (let i = 0; i < fixedA; i++) {
    if (!segmentCovers(a.segments[i]!, b.segments[i]!, foldCase)) return false;
  }
  return true;
}
