/**
 * Validation of rule documents: first by schema, then by meaning (unknown upstreams,
 * duplicate ids, rules that can never match). The same code checks YAML files on disk and
 * rule sets that arrive over the admin API; only the way an issue is located differs.
 */
import { Ajv, type ErrorObject } from 'ajv';
import {
  DEFAULT_LEGACY_UPSTREAM,
  RuleFileSchema,
  SAFE_METHODS,
  type HttpRule,
  type RuleFile,
  type RuleSet,
  type Upstream,
} from './model.js';
import { parsePathPattern, PatternError, type PathPattern } from './path-pattern.js';
import { effectiveMethods, ruleCovers } from './rule-coverage.js';

export type DocPath = (string | number)[];

export interface Position {
  file?: string;
  line?: number;
  column?: number;
}

export interface RuleIssue extends Position {
  /** where in the document, as a JSON pointer (`/http/3/mode`) */
  pointer: string;
  ruleId?: string;
  field?: string;
  reason: string;
}

export interface RuleDocument {
  /** the file name (or another label) used in messages */
  name?: string;
  data: unknown;
  /** maps a path inside `data` to a file position, when the document came from a file */
  locate?: (path: DocPath) => Position;
}

export type ValidationResult =
  | { ok: true; ruleSet: RuleSet; warnings: RuleIssue[] }
  | { ok: false; errors: RuleIssue[]; warnings: RuleIssue[] };

const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: false });
const checkFile = ajv.compile<RuleFile>(RuleFileSchema);

function pointerToPath(pointer: string): DocPath {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

function pathToPointer(path: DocPath): string {
  return path.map((p) => '/' + String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

function describe(err: ErrorObject): { path: DocPath; reason: string } {
  const path = pointerToPath(err.instancePath);
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'additionalProperties':
      return { path: [...path, String(params.additionalProperty)], reason: `unknown field "${String(params.additionalProperty)}"` };
    case 'required':
      return { path, reason: `missing required field "${String(params.missingProperty)}"` };
    case 'enum':
      return { path, reason: `must be one of ${(params.allowedValues as unknown[]).join(', ')}` };
    case 'pattern': {
      const schema = err.parentSchema as { description?: string } | undefined;
      return { path, reason: `does not match ${schema?.description ?? `the pattern ${String(params.pattern)}`}` };
    }
    case 'minProperties':
    case 'maxProperties':
      return { path, reason: 'a predicate has exactly one of "equals", "regex" or "present"' };
    default:
      return { path, reason: err.message ?? err.keyword };
  }
}

interface Collector {
  errors: RuleIssue[];
  warnings: RuleIssue[];
}

function issue(doc: RuleDocument, path: DocPath, reason: string, ruleId?: string): RuleIssue {
  const position = doc.locate?.(path) ?? {};
  const field = [...path].reverse().find((p) => typeof p === 'string');
  const out: RuleIssue = { ...position, pointer: pathToPointer(path), reason };
  if (!out.file && doc.name) out.file = doc.name;
  if (ruleId) out.ruleId = ruleId;
  if (field && !(path.length === 2 && path[0] === 'http')) out.field = String(field);
  return out;
}

function ruleIdAt(data: unknown, path: DocPath): string | undefined {
  if (path[0] !== 'http' || typeof path[1] !== 'number') return undefined;
  const rules = (data as { http?: unknown[] } | null)?.http;
  const rule = Array.isArray(rules) ? (rules[path[1]] as { id?: unknown } | undefined) : undefined;
  return typeof rule?.id === 'string' ? rule.id : undefined;
}

interface PlacedRule {
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

function where(p: PlacedRule): string {
  const pos = p.doc.locate?.(['http', p.index]);
  const file = pos?.file ?? p.doc.name;
  return file ? ` (${file}${pos?.line ? `:${pos.line}` : ''})` : '';
}

function checkPredicates(c: Collector, p: PlacedRule, section: 'headers' | 'query') {
  for (const [key, pred] of Object.entries(p.rule.match[section] ?? {})) {
    if (pred.regex === undefined) continue;
    try {
      new RegExp(pred.regex);
    } catch (e) {
      c.errors.push(issue(p.doc, ['http', p.index, 'match', section, key, 'regex'], `invalid regular expression: ${(e as Error).message}`, p.rule.id));
    }
  }
}

function checkRule(c: Collector, p: PlacedRule, upstreams: Record<string, Upstream>) {
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
    } catch (e) {
      if (!(e instanceof PatternError)) throw e;
      fail(rule.match.paths ? at('match', 'paths', i) : at('match', 'path'), e.message);
    }
  });
  if (patterns.length === rulePaths(rule).length) p.patterns = patterns;
  checkPredicates(c, p, 'headers');
  checkPredicates(c, p, 'query');

  const legacy = rule.legacy ?? DEFAULT_LEGACY_UPSTREAM;
  if (!upstreams[legacy]) {
    fail(rule.legacy ? at('legacy') : at(), `unknown upstream "${legacy}" (declared: ${Object.keys(upstreams).join(', ') || 'none'})`);
  }
  if (rule.target !== undefined) {
    if (!upstreams[rule.target]) {
      fail(at('target'), `unknown upstream "${rule.target}" (declared: ${Object.keys(upstreams).join(', ') || 'none'})`);
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
  if (rule.mode === 'new' && methods && ![...methods].some((m) => SAFE_METHODS.has(m)) && rule.fallback === true) {
    c.warnings.push(issue(doc, at('fallback'), 'no safe method in this rule, so fallback never happens', rule.id));
  }
}

/** Validates one or more rule documents and merges them, in order, into one rule set. */
export function validateRuleDocuments(docs: RuleDocument[]): ValidationResult {
  const c: Collector = { errors: [], warnings: [] };
  const upstreams: Record<string, Upstream> = {};
  const upstreamOrigin = new Map<string, RuleDocument>();
  const placed: PlacedRule[] = [];

  for (const doc of docs) {
    if (doc.data === null || doc.data === undefined) continue; // an empty file is allowed
    if (!checkFile(doc.data)) {
      for (const err of checkFile.errors ?? []) {
        const { path, reason } = describe(err);
        c.errors.push(issue(doc, path, reason, ruleIdAt(doc.data, path)));
      }
      continue;
    }
    const file = doc.data;
    for (const [name, u] of Object.entries(file.upstreams ?? {})) {
      const first = upstreamOrigin.get(name);
      if (first) {
        c.errors.push(issue(doc, ['upstreams', name], `upstream "${name}" is already declared${first.name ? ` in ${first.name}` : ''}`));
        continue;
      }
      upstreamOrigin.set(name, doc);
      upstreams[name] = u;
    }
    (file.http ?? []).forEach((rule, index) => placed.push({ rule, doc, index, patterns: [] }));
  }
  if (c.errors.length > 0) return { ok: false, errors: c.errors, warnings: c.warnings };

  const seen = new Map<string, PlacedRule>();
  for (const p of placed) {
    const first = seen.get(p.rule.id);
    if (first) {
      c.errors.push(issue(p.doc, ['http', p.index, 'id'], `duplicate rule id "${p.rule.id}", first used${where(first)}`, p.rule.id));
    } else {
      seen.set(p.rule.id, p);
    }
    checkRule(c, p, upstreams);
  }
  placed.forEach((later, j) => {
    const earlier = placed.slice(0, j).find((e) => ruleCovers(e, later));
    if (earlier) {
      c.errors.push(
        issue(
          later.doc,
          ['http', later.index, 'match'],
          `can never match: rule "${earlier.rule.id}"${where(earlier)} comes first and takes every request this one matches`,
          later.rule.id,
        ),
      );
    }
  });
  const last = placed[placed.length - 1];
  const catchAll = (p: PlacedRule) =>
    p.patterns.some((pp) => pp.segments.length === 1 && pp.open) && !p.rule.match.methods && !p.rule.match.headers && !p.rule.match.query;
  if (!last || !catchAll(last)) {
    const doc = last?.doc ?? docs[0] ?? { data: null };
    c.warnings.push(
      issue(doc, last ? ['http', last.index] : [], 'the last rule is not a catch-all ("/**" for every method): unmatched requests get 404', last?.rule.id),
    );
  }

  if (c.errors.length > 0) return { ok: false, errors: c.errors, warnings: c.warnings };
  return { ok: true, ruleSet: { upstreams, http: placed.map((p) => p.rule) }, warnings: c.warnings };
}

/** `routing-rules/10-http.yaml:12:5: rule "patients-read", field "mode": must be one of ...` */
export function formatIssue(i: RuleIssue): string {
  const where = i.file ? `${i.file}${i.line ? `:${i.line}${i.column ? `:${i.column}` : ''}` : ''}: ` : i.pointer ? `${i.pointer}: ` : '';
  const what = [i.ruleId ? `rule "${i.ruleId}"` : '', i.field ? `field "${i.field}"` : ''].filter(Boolean).join(', ');
  return `${where}${what ? `${what}: ` : ''}${i.reason}`;
}
