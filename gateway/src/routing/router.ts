/**
 * Compiles a rule set into a matcher. First match wins, as written; to avoid testing every
 * rule on every request, rules are pre-sorted into candidate lists keyed by the first two
 * literal path segments, each list keeping the original order.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { compileCompare, effectiveMethods, parsePathPattern, resolveShadow, rulePaths, SAFE_METHODS, DEFAULT_LEGACY_UPSTREAM, type CompiledCompare, type ResolvedShadow, type HttpMode, type HttpRule, type PathPattern, type Predicate, type RuleSet } from '@ficus/contracts';
import { DEFAULT_SALT, stickyKeyReader, thresholdOf, type StickyKeyReader } from './canary.js';
import { foldedQuery, queryParam, type EncodedSlashes, type RequestTarget } from './request-target.js';
import { AMBIGUOUS, testHeader, testQuery, type Ambiguity, type ValueTest } from './repeated-values.js';

interface CompiledPattern {
  pattern: PathPattern;
  fixed: number;
  /** segment index of the sticky path parameter in this pattern, or -1 */
  stickyIndex: number;
}

export interface CompiledRule {
  id: string;
  index: number;
  rule: HttpRule;
  mode: HttpMode;
  /** held in legacy by the emergency override file (ops/emergency-file.ts): its answers say so */
  emergency: boolean;
  legacy: string;
  target: string | undefined;
  /** canary: keys whose bucket is below this go to the target */
  threshold: number;
  salt: string;
  stickyKey: StickyKeyReader | null;
  /** mode new/canary: safe requests may be answered by legacy when the target fails */
  fallback: boolean;
  methods: Set<string> | null;
  /** mode shadow: the settings, and the comparison compiled once per rule set */
  shadow: ResolvedShadow | null;
  shadowWrites: boolean;
  compare: CompiledCompare | null;
  patterns: CompiledPattern[];
  headerTests: [string, ValueTest][];
  /** by the parameter's name, in lower case when foldQueryNames */
  queryTests: [string, ValueTest][];
  /** query parameter names are read regardless of case (caseInsensitivePaths): read them from foldedQuery */
  foldQueryNames: boolean;
}

export interface RouterOptions {
  /**
   * compare literal path segments regardless of case, as a legacy server on IIS reads paths:
   * there, `/API/Patients/1` is `/api/patients/1`, and a case-sensitive rule would send it to
   * legacy past a retired rule. Parameters keep the case the client wrote. Query parameter
   * names are read so too, as ASP.NET reads them (`?MRN=` is `?mrn=`), by every rule's query
   * predicates and sticky key; their values keep their case.
   */
  caseInsensitivePaths?: boolean;
  /** what an escaped slash in a path is (see EncodedSlashes); `keep` when not given */
  encodedSlashes?: EncodedSlashes;
}

export interface RouteMatch {
  rule: CompiledRule;
  pattern: CompiledPattern;
}

/** The first rule whose path and method fit was left undecided: copies of a value it tests disagree (repeated-values.ts). */
export interface AmbiguousRequest {
  rule: CompiledRule;
  ambiguous: Ambiguity;
}

export const isAmbiguous = (r: RouteMatch | AmbiguousRequest): r is AmbiguousRequest => 'ambiguous' in r;

function valueTest(p: Predicate): ValueTest {
  if (p.present !== undefined) {
    const want = p.present;
    return (v) => (v !== undefined) === want;
  }
  if (p.equals !== undefined) {
    const want = p.equals;
    return (v) => v === want;
  }
  const re = new RegExp(p.regex ?? '');
  return (v) => v !== undefined && re.test(v);
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function lowerLiterals(pattern: PathPattern): PathPattern {
  return { ...pattern, segments: pattern.segments.map((s) => (s.kind === 'literal' ? { kind: 'literal', value: s.value.toLowerCase() } : s)) };
}

function compileRule(rule: HttpRule, index: number, caseInsensitive: boolean, emergency: boolean): CompiledRule {
  const methods = effectiveMethods(rule);
  const stickyParam = rule.sticky?.param;
  return {
    id: rule.id,
    index,
    rule,
    mode: rule.mode,
    emergency,
    legacy: rule.legacy ?? DEFAULT_LEGACY_UPSTREAM,
    target: rule.target,
    threshold: rule.mode === 'canary' ? thresholdOf(rule.percent ?? 0) : 0,
    salt: rule.sticky?.salt ?? DEFAULT_SALT,
    stickyKey: rule.sticky ? stickyKeyReader(rule.sticky, caseInsensitive) : null,
    fallback: rule.fallback ?? true,
    methods,
    shadow: rule.mode === 'shadow' ? resolveShadow(rule.shadow) : null,
    shadowWrites: rule.shadow?.writes === true,
    compare: rule.mode === 'shadow' ? compileCompare(rule.compare) : null,
    patterns: rulePaths(rule).map((source) => {
      const parsed = parsePathPattern(source);
      const pattern = caseInsensitive ? lowerLiterals(parsed) : parsed;
      const stickyIndex = stickyParam === undefined ? -1 : pattern.segments.findIndex((s) => s.kind === 'param' && s.name === stickyParam);
      return { pattern, fixed: pattern.open ? pattern.segments.length - 1 : pattern.segments.length, stickyIndex };
    }),
    headerTests: Object.entries(rule.match.headers ?? {}).map(([k, p]) => [k.toLowerCase(), valueTest(p)]),
    queryTests: Object.entries(rule.match.query ?? {}).map(([k, p]) => [caseInsensitive ? k.toLowerCase() : k, valueTest(p)]),
    foldQueryNames: caseInsensitive,
  };
}

function matchPattern(p: CompiledPattern, segments: string[]): boolean {
  const n = p.fixed;
  if (p.pattern.open ? segments.length < n : segments.length !== n) return false;
  const segs = p.pattern.segments;
  for (let i = 0; i < n; i++) {
    const s = segs[i]!;
    const value = segments[i]!;
    if (s.kind === 'literal' ? s.value !== value : value === '') return false;
  }
  return true;
}

/** can this pattern match a path whose segment i is `literal` (null: a segment no rule names)? */
function compatible(p: CompiledPattern, i: number, literal: string | null): boolean {
  if (i >= p.fixed) return p.pattern.open;
  const s = p.pattern.segments[i]!;
  return s.kind !== 'literal' || s.value === literal;
}

export class Router {
  readonly rules: CompiledRule[];
  readonly byId: Map<string, CompiledRule>;
  private readonly level2 = new Map<string, CompiledRule[]>();
  private readonly level1 = new Map<string, CompiledRule[]>();
  private readonly level0: CompiledRule[];
  /** literal path segments match regardless of case */
  readonly caseInsensitive: boolean;
  /** how requests are read into the targets this router matches (parseRequestTarget) */
  readonly encodedSlashes: EncodedSlashes;

  /** `emergency`: the rules the emergency override holds in legacy (ruleSet already has them so) */
  constructor(ruleSet: RuleSet, options: RouterOptions = {}, emergency: ReadonlySet<string> = new Set()) {
    this.caseInsensitive = options.caseInsensitivePaths === true;
    this.encodedSlashes = options.encodedSlashes ?? 'keep';
    this.rules = ruleSet.http.map((rule, i) => compileRule(rule, i, this.caseInsensitive, emergency.has(rule.id)));
    this.byId = new Map(this.rules.map((r) => [r.id, r]));
    const literalsAt = (i: number) =>
      new Set(this.rules.flatMap((r) => r.patterns.flatMap((p) => (p.pattern.segments[i]?.kind === 'literal' && i < p.fixed ? [(p.pattern.segments[i] as { value: string }).value] : []))));
    const first = literalsAt(0);
    const second = literalsAt(1);
    const where = (test: (p: CompiledPattern) => boolean) => this.rules.filter((r) => r.patterns.some(test));
    for (const a of first) {
      this.level1.set(a, where((p) => compatible(p, 0, a) && (p.fixed <= 1 || p.pattern.segments[1]!.kind !== 'literal')));
      for (const b of second) this.level2.set(a + '/' + b, where((p) => compatible(p, 0, a) && compatible(p, 1, b)));
    }
    this.level0 = where((p) => p.fixed === 0 || p.pattern.segments[0]!.kind !== 'literal');
  }

  private candidates(segments: string[]): CompiledRule[] {
    if (segments.length >= 2) {
      const l2 = this.level2.get(segments[0] + '/' + segments[1]);
      if (l2) return l2;
    }
    if (segments.length >= 1) {
      const l1 = this.level1.get(segments[0]!);
      if (l1) return l1;
    }
    return this.level0;
  }

  /**
   * The rule that takes a request, or the first rule the request is ambiguous for (it is then
   * refused, not sent on to a later rule), or undefined when no rule matches.
   */
  route(method: string, target: RequestTarget, headers: IncomingHttpHeaders, rawHeaders: readonly string[]): RouteMatch | AmbiguousRequest | undefined {
    return this.find(method, target, headers, rawHeaders);
  }

  /**
   * @deprecated reads a repeated header as Node joins it and a repeated query parameter's first
   * copy, so `x-ward: 7` sent twice passes a rule for ward 7: the proxy uses route().
   */
  match(method: string, target: RequestTarget, headers: IncomingHttpHeaders): RouteMatch | undefined {
    return this.find(method, target, headers, undefined) as RouteMatch | undefined;
  }

  private find(method: string, target: RequestTarget, headers: IncomingHttpHeaders, rawHeaders: readonly string[] | undefined): RouteMatch | AmbiguousRequest | undefined {
    const segments = this.caseInsensitive ? target.segments.map((s) => s.toLowerCase()) : target.segments;
    const list = this.candidates(segments);
    for (let r = 0; r < list.length; r++) {
      const rule = list[r]!;
      if (rule.methods !== null && !rule.methods.has(method)) continue;
      let matched: CompiledPattern | undefined;
      for (let p = 0; p < rule.patterns.length; p++) {
        if (matchPattern(rule.patterns[p]!, segments)) {
          matched = rule.patterns[p];
          break;
        }
      }
      if (!matched) continue;
      if (rule.headerTests.length === 0 && rule.queryTests.length === 0) return { rule, pattern: matched };
      // folded once per request (cached on the target), and only when a rule reads the query
      const query = rule.foldQueryNames && rule.queryTests.length > 0 ? foldedQuery(target) : target.query;
      const verdict = rawHeaders === undefined ? joinedPredicates(rule, headers, query) : predicates(rule, headers, rawHeaders, query);
      if (verdict === true) return { rule, pattern: matched };
      if (verdict !== false) return { rule, ambiguous: verdict };
    }
    return undefined;
  }
}

/**
 * Whether the request meets every header and query condition of the rule, or where its copies
 * leave that undecided. One condition that fails settles it (the rule does not match whatever
 * the ambiguous copies say).
 */
function predicates(rule: CompiledRule, headers: IncomingHttpHeaders, rawHeaders: readonly string[], query: string | undefined): boolean | Ambiguity {
  let ambiguous: Ambiguity | undefined;
  for (const [name, test] of rule.headerTests) {
    const v = testHeader(test, name, headers, rawHeaders);
    if (v === false) return false;
    if (v === AMBIGUOUS) ambiguous ??= { in: 'header', name };
  }
  for (const [name, test] of rule.queryTests) {
    const v = testQuery(test, name, query);
    if (v === false) return false;
    if (v === AMBIGUOUS) ambiguous ??= { in: 'query', name };
  }
  return ambiguous ?? true;
}

function joinedPredicates(rule: CompiledRule, headers: IncomingHttpHeaders, query: string | undefined): boolean {
  return rule.headerTests.every(([name, test]) => test(headerValue(headers, name))) && rule.queryTests.every(([name, test]) => test(queryParam(query, name)));
}

export function isSafeMethod(method: string): boolean {
  return SAFE_METHODS.has(method);
}
