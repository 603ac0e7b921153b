/**
 * The checks of HTTP rules by meaning: paths, predicates, upstreams, canary settings, rules that
 * can never match, and the catch-all at the end.
 */
import { DEFAULT_LEGACY_UPSTREAM, isHttpUpstream, SAFE_METHODS, type HttpRule, type RuleSet, type Upstream } from './model.js';
import { parsePathPattern, PatternError, type PathPattern } from './path-pattern.js';
import { firstCoveringRules } from './coverage-index.js';
import { isCatchAll } from './routing-guard.js';
import { effectiveMethods } from './rule-coverage.js';
import { issue, placeOf, type Collector, type DocPath, type RuleDocument } from './rule-issues.js';
import { catastrophicBacktracking } from './regex-safety.js';

export interface PlacedRule {
  rule: HttpRule;
  doc: RuleDocument;
  index: number;
  /** parsed `match.path` or `match.paths`; empty when they are invalid */
  patterns: PathPattern[];
}

/** The path patterns of a rule, as written (`path` or `paths`). */
export function rulePaths(rule: HttpRule): string[] {
  return rule.match.paths ?? (rule.match.path !== undefined ? [rule.match.path] : []);
}

/**
 * Request paths are matched percent-decoded, so a pattern holding an escape (`%69`, `%2F`) or
 * white space at a segment's edge (a quoted path's stray space) could only match a request that
 * spells it otherwise (`%2569`, `%20`): the rule would silently never take what it names. Checked
 * here rather than in parsePathPattern, so that the router still compiles rules stored before.
 */
function writtenAsDecoded(source: string): string | undefined {
  if (/%2f/i.test(source)) {
    return `"%2F": an escaped slash cannot be matched by a pattern (FICUS_ENCODED_SLASHES says whether a request's is a separator or data); write the path with "/"`;
  }
  const escape = /(?:%[0-9a-f]{2})+/i.exec(source)?.[0];
  if (escape) return `"${escape}": paths are compared percent-decoded; write the character itself${decoded(escape)}`;
  // eslint-disable-next-line no-control-regex
  const spaced = source.split('/').find((seg) => seg !== seg.trim() || /[\x00-\x1f\x7f]/.test(seg));
  if (spaced !== undefined) return `segment ${JSON.stringify(spaced)} has white space at its start or end, or a control character (a stray space in a quoted path?)`;
  return undefined;
}

function decoded(escape: string): string {
  try {
    return ` ("${decodeURIComponent(escape)}")`;
  } catch {
    return '';
  }
}

/**
 * Checks added after rules were already in use (a regex that may backtrack exponentially, a path
 * written percent-encoded) refuse what a change brings, not what already serves: the rule store's
 * versions and its last good copy (`stored`), and a rule that served the same regex or path
 * before the change (`servingNow`). Otherwise an upgrade would refuse the stored rules at the
 * gateway's start, and every flip or rollback of a rule set holding one (in an incident) would be
 * refused until someone rewrote a rule nobody is changing. Kept, they are warnings.
 */
function laterCheck(c: Collector, p: PlacedRule, options: ValidationOptions, path: DocPath, reason: string, servedBefore: (before: HttpRule) => boolean): void {
  const before = options.servingNow?.http?.find((r) => r.id === p.rule.id);
  if (options.stored || (before !== undefined && servedBefore(before))) {
    c.warnings.push(issue(p.doc, path, `${reason} (kept: it was serving before this check; change it)`, p.rule.id));
  } else {
    c.errors.push(issue(p.doc, path, reason, p.rule.id));
  }
}

function checkPredicates(c: Collector, p: PlacedRule, section: 'headers' | 'query', options: ValidationOptions) {
  for (const [key, pred] of Object.entries(p.rule.match[section] ?? {})) {
    if (pred.regex === undefined) continue;
    const at = ['http', p.index, 'match', section, key, 'regex'];
    try {
      new RegExp(pred.regex);
    } catch (e) {
      c.errors.push(issue(p.doc, at, `invalid regular expression: ${(e as Error).message}`, p.rule.id));
      continue;
    }
    const nested = catastrophicBacktracking(pred.regex);
    if (nested) {
      const reason = `${nested}: a repetition inside a repetition can take exponential time on a value a client sends, holding the gateway (ReDoS), and which ones do is not told apart; write it without one (e.g. "^a+$" for "^(a+)+$", "^[a-z-]+$" for "^[a-z]+(-[a-z]+)*$")`;
      laterCheck(c, p, options, at, reason, (before) => before.match[section]?.[key]?.regex === pred.regex);
    }
  }
}

function checkRule(c: Collector, p: PlacedRule, upstreams: Record<string, Upstream>, options: ValidationOptions) {
  const { rule, doc, index } = p;
  const at = (...rest: DocPath) => ['http', index, ...rest];
  const fail = (path: DocPath, reason: string) => c.errors.push(issue(doc, path, reason, rule.id));

  if ((rule.match.path === undefined) === (rule.match.paths === undefined)) {
    fail(at('match'), 'give exactly one of "path" or "paths"');
  }
  const patterns: PathPattern[] = [];
  rulePaths(rule).forEach((source, i) => {
    try {
      patterns.push(parsePathPattern(source));
      const literal = writtenAsDecoded(source);
      if (literal) laterCheck(c, p, options, rule.match.paths ? at('match', 'paths', i) : at('match', 'path'), literal, (before) => rulePaths(before).includes(source));
    } catch (e) {
      if (!(e instanceof PatternError)) throw e;
      fail(rule.match.paths ? at('match', 'paths', i) : at('match', 'path'), e.message);
    }
  });
  if (patterns.length === rulePaths(rule).length) p.patterns = patterns;
  checkPredicates(c, p, 'headers', options);
  checkPredicates(c, p, 'query', options);

  const legacy = rule.legacy ?? DEFAULT_LEGACY_UPSTREAM;
  const declared = Object.keys(upstreams).filter((n) => isHttpUpstream(upstreams[n]!));
  if (!upstreams[legacy]) {
    fail(rule.legacy ? at('legacy') : at(), `unknown upstream "${legacy}" (declared: ${declared.join(', ') || 'none'})`);
  } else if (!isHttpUpstream(upstreams[legacy])) {
    fail(rule.legacy ? at('legacy') : at(), `upstream "${legacy}" is not an HTTP upstream (${upstreams[legacy].url})`);
  }
  if (rule.target !== undefined) {
    if (!upstreams[rule.target]) {
      fail(at('target'), `unknown upstream "${rule.target}" (declared: ${declared.join(', ') || 'none'})`);
    } else if (!isHttpUpstream(upstreams[rule.target]!)) {
      fail(at('target'), `upstream "${rule.target}" is not an HTTP upstream (${upstreams[rule.target]!.url})`);
    } else if (rule.target === legacy) {
      fail(at('target'), `the target is the legacy upstream "${legacy}"; name the new service`);
    }
  } else if (rule.mode !== 'legacy') {
    fail(at(), `mode "${rule.mode}" needs a "target" (the new service)`);
  }

  if (rule.mode === 'canary') {
    if (rule.percent === undefined) fail(at(), 'mode "canary" needs "percent" (0-100)');
    if (!rule.sticky) fail(at(), 'mode "canary" needs "sticky" (header, param, query or cookie) so a patient stays on one side');
  }
  if (rule.sticky) {
    const sources = (['header', 'param', 'query', 'cookie'] as const).filter((k) => rule.sticky?.[k] !== undefined);
    if (sources.length !== 1) {
      fail(at('sticky'), `"sticky" names exactly one of header, param, query or cookie (found ${sources.length})`);
    } else if (rule.sticky.param !== undefined && p.patterns.length > 0 && !p.patterns.some((pp) => pp.params.includes(rule.sticky?.param ?? ''))) {
      fail(at('sticky', 'param'), `no path of this rule has a parameter ":${rule.sticky.param}"`);
    }
  }
  if (rule.fallback === true && rule.mode !== 'new') {
    c.warnings.push(issue(doc, at('fallback'), `"fallback" only applies in mode "new"`, rule.id));
  }
  const methods = effectiveMethods(rule);
  checkShadow(c, p, methods, options);
  checkCanaryWrites(c, p, methods);
  if (rule.mode === 'new' && methods && ![...methods].some((m) => SAFE_METHODS.has(m)) && rule.fallback === true) {
    c.warnings.push(issue(doc, at('fallback'), 'no safe method in this rule, so fallback never happens', rule.id));
  }
}

const unsafeOf = (methods: Set<string> | null) => (methods === null ? ['POST', 'PUT', 'PATCH', 'DELETE'] : [...methods].filter((m) => !SAFE_METHODS.has(m)));

/**
 * A canary splits writes between two systems of record by key. The shipped services take writes
 * only once their rule is in mode new (until then they answer 503), and even a service that
 * took them would hold part of the records while the legacy holds the rest: say so.
 */
function checkCanaryWrites(c: Collector, p: PlacedRule, methods: Set<string> | null) {
  const { rule, doc, index } = p;
  const unsafe = unsafeOf(methods);
  if (rule.mode !== 'canary' || unsafe.length === 0 || (rule.percent ?? 0) === 0) return;
  c.warnings.push(
    issue(
      doc,
      ['http', index, 'mode'],
      `${unsafe.join(', ')} requests go to "${rule.target ?? '?'}" for ${rule.percent} % of keys: a service that is the system of record only in mode "new" refuses them (503), ` +
        'and one that takes them holds part of the records; move write rules from legacy to new at once (or canary a read-only rule)',
      rule.id,
    ),
  );
}

/** Shadow, comparison and gate settings by meaning (the schema checked their form). */
function checkShadow(c: Collector, p: PlacedRule, methods: Set<string> | null, options: ValidationOptions) {
  const { rule, doc, index } = p;
  const at = (...rest: DocPath) => ['http', index, ...rest];
  const unsafe = unsafeOf(methods);
  if (rule.mode === 'shadow' && unsafe.length > 0 && rule.shadow?.writes !== true) {
    c.warnings.push(issue(doc, at('mode'), `${unsafe.join(', ')} requests are not shadowed (side effects); set "shadow.writes: true" only if the new service's writes are idempotent`, rule.id));
  }
  if (rule.shadow?.writes === true && unsafe.length === 0) {
    c.warnings.push(issue(doc, at('shadow', 'writes'), 'this rule matches no write method, so "writes" changes nothing', rule.id));
  }
  if (rule.compare?.learnNoise === true && methods !== null && ![...methods].some((m) => SAFE_METHODS.has(m))) {
    c.warnings.push(issue(doc, at('compare', 'learnNoise'), 'noise is learnt from a second legacy call, made for safe methods only: this rule has none', rule.id));
  }
  // Only rules loaded as they are (a folder served by the gateway, the store's first seed) can
  // hold a canary past its gate unchecked. Through the control plane every raise above it went
  // through the gate (or was forced, on the record) and a cut needs none: nothing to act on.
  const gate = rule.parity;
  if (!options.parityGated && gate?.gateAbovePercent !== undefined && rule.mode === 'canary' && (rule.percent ?? 0) > gate.gateAbovePercent) {
    c.warnings.push(
      issue(
        doc,
        at('parity', 'gateAbovePercent'),
        `the canary is at ${rule.percent} %, above the gated ${gate.gateAbovePercent} %: rule files served as they are (FICUS_RULES_SOURCE=files, the rule store's first seed) do not go through the parity gate`,
        rule.id,
      ),
    );
  }
}

export interface ValidationOptions {
  /** the gateway compares literal path segments and query parameter names regardless of case (FICUS_PATHS_CASE_INSENSITIVE) */
  caseInsensitivePaths?: boolean;
  /** the rules arrive through the control plane, which holds every move toward the new service to its parity gate */
  parityGated?: boolean;
  /** the rules serving now: a change that stops routing what they route (routing-guard.ts) is an error */
  servingNow?: RuleSet;
  /** an admin's decision to apply such a change anyway: then it is a warning */
  allowRemoval?: boolean;
  /**
   * rules already applied (a rule store's version, its last good copy on disk): checks added
   * since they were applied are warnings, not refusals (laterCheck)
   */
  stored?: boolean;
  /**
   * read the certificate and key files upstreams' `tls` names (default true): the deployables that
   * connect with them do; a tool run elsewhere (the CLI on a workstation) does not have them
   */
  tlsFiles?: boolean;
}

/** Every check of the HTTP rules, in order; ids are checked by the caller (one namespace). */
export function checkHttpRules(c: Collector, placed: PlacedRule[], upstreams: Record<string, Upstream>, options: ValidationOptions = {}): void {
  for (const p of placed) checkRule(c, p, upstreams, options);
  const covering = firstCoveringRules(placed);
  const folded = options.caseInsensitivePaths ? firstCoveringRules(placed, true) : undefined;
  placed.forEach((later, j) => {
    const earlier = placed[covering[j]!];
    if (earlier) {
      c.errors.push(
        issue(
          later.doc,
          ['http', later.index, 'match'],
          `can never match: rule "${earlier.rule.id}"${placeOf(earlier.doc, 'http', earlier.index)} comes first and takes every request this one matches`,
          later.rule.id,
        ),
      );
      return;
    }
    // a warning, not an error: the same rule set may serve gateways with and without the setting
    const foldedBy = folded ? placed[folded[j]!] : undefined;
    if (foldedBy) {
      c.warnings.push(
        issue(
          later.doc,
          ['http', later.index, 'match'],
          `can never match while paths compare regardless of case (FICUS_PATHS_CASE_INSENSITIVE): rule "${foldedBy.rule.id}"${placeOf(foldedBy.doc, 'http', foldedBy.index)} comes first and takes every request this one matches`,
          later.rule.id,
        ),
      );
    }
  });
  const last = placed[placed.length - 1];
  if (last && !isCatchAll(last.rule)) {
    c.warnings.push(issue(last.doc, ['http', last.index], 'the last rule is not a catch-all ("/**" for every method): unmatched requests get 404', last.rule.id));
  }
}
