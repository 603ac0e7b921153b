/**
 * Validation of rule documents: first by schema, then by meaning (unknown upstreams,
 * duplicate ids, rules that can never match). The same code checks YAML files on disk and
 * rule sets that arrive over the admin API; only the way an issue is located differs.
 */
import { Ajv } from 'ajv';
import { RuleFileSchema, type Hl7Rule, type RuleFile, type RuleSet, type Upstream } from './model.js';
import { describe, issue, placeOf, ruleIdAt, type Collector, type RuleDocument, type RuleIssue } from './rule-issues.js';
import { checkHl7Rules, type PlacedHl7Rule } from './validate-hl7.js';
import { checkHttpRules, type PlacedRule, type ValidationOptions } from './validate-http.js';
import { routingLosses } from './routing-guard.js';
import { checkUpstreamsTls } from './validate-tls.js';

export * from './rule-issues.js';
export { rulePaths, type ValidationOptions } from './validate-http.js';

export type ValidationResult =
  | { ok: true; ruleSet: RuleSet; warnings: RuleIssue[] }
  | { ok: false; errors: RuleIssue[]; warnings: RuleIssue[] };

// multipleOfPrecision: 0.01 steps (a canary's percent) are not exact in binary floating point: 33.33 % was refused
const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: false, multipleOfPrecision: 6 });
const checkFile = ajv.compile<RuleFile>(RuleFileSchema);

/** Validates one or more rule documents and merges them, in order, into one rule set. */
export function validateRuleDocuments(docs: RuleDocument[], options: ValidationOptions = {}): ValidationResult {
  const c: Collector = { errors: [], warnings: [] };
  const upstreams: Record<string, Upstream> = {};
  const upstreamOrigin = new Map<string, RuleDocument>();
  const http: PlacedRule[] = [];
  const hl7: PlacedHl7Rule[] = [];
  let hasHl7Section = false;

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
    (file.http ?? []).forEach((rule, index) => http.push({ rule, doc, index, patterns: [] }));
    if (file.hl7) hasHl7Section = true;
    (file.hl7 ?? []).forEach((rule, index) => hl7.push({ rule, doc, index }));
  }
  if (c.errors.length > 0) return { ok: false, errors: c.errors, warnings: c.warnings };

  // one namespace for rule ids: a flip names a rule by its id alone
  const seen = new Map<string, { doc: RuleDocument; section: 'http' | 'hl7'; index: number }>();
  const placed = [...http.map((p) => ({ ...p, section: 'http' as const })), ...hl7.map((p) => ({ ...p, section: 'hl7' as const }))];
  for (const p of placed) {
    const first = seen.get(p.rule.id);
    if (first) {
      c.errors.push(issue(p.doc, [p.section, p.index, 'id'], `duplicate rule id "${p.rule.id}", first used${placeOf(first.doc, first.section, first.index)}`, p.rule.id));
    } else {
      seen.set(p.rule.id, p);
    }
  }
  checkHttpRules(c, http, upstreams, options);
  checkHl7Rules(c, hl7, upstreams);
  checkUpstreamsTls(c, upstreams, (name) => upstreamOrigin.get(name)!, options.tlsFiles !== false);

  if (c.errors.length > 0) return { ok: false, errors: c.errors, warnings: c.warnings };
  const ruleSet: RuleSet = { upstreams, http: http.map((p) => p.rule) };
  if (hasHl7Section) ruleSet.hl7 = hl7.map((p) => p.rule as Hl7Rule);
  const lost = options.servingNow ? guardRouting(c, options.servingNow, ruleSet, http, options.allowRemoval === true) : false;
  if (http.length === 0 && !lost) c.warnings.push(issue(docs[0] ?? { data: null }, [], 'no HTTP rules: every request gets 404'));
  if (c.errors.length > 0) return { ok: false, errors: c.errors, warnings: c.warnings };
  return { ok: true, ruleSet, warnings: c.warnings };
}

/**
 * What the change stops routing, compared with the rules serving now: an error, or a warning
 * when an admin allowed it. Located at the rule when it is still there (a narrowed catch-all),
 * else at the section. true when the HTTP rules are all gone (said once, not twice).
 */
function guardRouting(c: Collector, servingNow: RuleSet, after: RuleSet, http: PlacedRule[], allowed: boolean): boolean {
  const losses = routingLosses(servingNow, after);
  const nowhere: RuleDocument = { data: null };
  for (const loss of losses) {
    const still = loss.ruleId === undefined ? undefined : http.find((p) => p.rule.id === loss.ruleId);
    const found = still ? issue(still.doc, ['http', still.index, 'match'], loss.reason, loss.ruleId) : issue(nowhere, [loss.kind === 'hl7-rules' ? 'hl7' : 'http'], loss.reason, loss.ruleId);
    delete found.field;
    (allowed ? c.warnings : c.errors).push({ ...found, loss: loss.kind });
  }
  return losses.some((l) => l.kind === 'http-rules');
}
