/**
 * Whether one HTTP rule takes every request another would match: the test behind "a rule that
 * can never match because an earlier one covers it". Conservative: when unsure, not covered.
 */
import type { HttpRule, Predicate } from './model.js';
import { patternCovers, type PathPattern } from './path-pattern.js';

export interface CoverageInput {
  rule: HttpRule;
  /** the rule's parsed paths; empty when they are invalid (then nothing is covered) */
  patterns: PathPattern[];
}

/** The methods a rule takes (GET also takes HEAD), or null for every method. */
export function effectiveMethods(rule: HttpRule): Set<string> | null {
  if (!rule.match.methods) return null;
  const set = new Set<string>(rule.match.methods);
  if (set.has('GET')) set.add('HEAD');
  return set;
}

function predicateImplies(stronger: Predicate | undefined, weaker: Predicate): boolean {
  if (!stronger) return false;
  if (weaker.present === false) return stronger.present === false;
  if (weaker.present === true) return stronger.present === true || stronger.equals !== undefined;
  if (weaker.equals !== undefined) return stronger.equals === weaker.equals;
  if (weaker.regex !== undefined) {
    if (stronger.regex === weaker.regex) return true;
    return stronger.equals !== undefined && new RegExp(weaker.regex).test(stronger.equals);
  }
  return false;
}

function predicatesCover(a: Record<string, Predicate> | undefined, b: Record<string, Predicate> | undefined, fold: boolean): boolean {
  if (!a) return true;
  const norm = (k: string) => (fold ? k.toLowerCase() : k);
  const bByKey = new Map(Object.entries(b ?? {}).map(([k, v]) => [norm(k), v]));
  return Object.entries(a).every(([k, p]) => predicateImplies(bByKey.get(norm(k)), p));
}

/**
 * true when rule `a`, placed before `b`, takes every request `b` would match; `foldCase`: as a
 * gateway with FICUS_PATHS_CASE_INSENSITIVE matches (literal path segments and query parameter
 * names regardless of case: `MRN` and `mrn` are one parameter there)
 */
export function ruleCovers(a: CoverageInput, b: CoverageInput, foldCase = false): boolean {
  if (a.patterns.length === 0 || b.patterns.length === 0) return false;
  if (!b.patterns.every((pb) => a.patterns.some((pa) => patternCovers(pa, pb, foldCase)))) return false;
  const ma = effectiveMethods(a.rule);
  const mb = effectiveMethods(b.rule);
  if (ma && (!mb || [...mb].some((m) => !ma.has(m)))) return false;
  return (
    predicatesCover(a.rule.match.headers, b.rule.match.headers, true) &&
    predicatesCover(a.rule.match.query, b.rule.match.query, foldCase)
  );
}
