/**
 * JSON-pointer-like paths with wildcards, as the comparison settings write them: `/items/*\/id`
 * (`*` one key or array index, `**` any number of them, `""` the whole document). Keys holding
 * `/` or `~` are escaped as in RFC 6901 (`~1`, `~0`).
 */

export type PathMatcher = (segments: readonly string[]) => boolean;

export function escapeSegment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function pointerOf(segments: readonly string[]): string {
  return segments.map((s) => '/' + escapeSegment(s)).join('');
}

function splitPattern(pattern: string): string[] {
  if (pattern === '') return [];
  return pattern
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function matchFrom(pattern: readonly string[], pi: number, segments: readonly string[], si: number): boolean {
  if (pi === pattern.length) return si === segments.length;
  const p = pattern[pi]!;
  if (p === '**') {
    for (let k = si; k <= segments.length; k++) if (matchFrom(pattern, pi + 1, segments, k)) return true;
    return false;
  }
  if (si === segments.length) return false;
  return (p === '*' || p === segments[si]) && matchFrom(pattern, pi + 1, segments, si + 1);
}

/** A matcher for one pattern: does a concrete path (its segments) match it exactly? */
export function compilePath(pattern: string): PathMatcher {
  const parts = splitPattern(pattern);
  return (segments) => matchFrom(parts, 0, segments, 0);
}

/** Any of several patterns. */
export function compilePaths(patterns: readonly string[]): PathMatcher {
  const ms = patterns.map(compilePath);
  return (segments) => ms.some((m) => m(segments));
}

/** The field a difference counts under: array indexes become `*`, so `/items/3/id` and `/items/7/id` add up. */
export function fieldOf(path: string): string {
  return path.replace(/\/\d+(?=\/|$)/g, '/*');
}
