/**
 * The emergency override ("break glass"): a file on the instance that pins named HTTP rules, or
 * every one, to mode legacy whatever the rule store serves, for an incident in which the store
 * cannot take a rollback. It only ever moves traffic towards legacy, so it needs no parity gate
 * and no token. It is folded into the rule set before the router is compiled: the proxy never
 * looks at it per request.
 */
import { formatIssue, parseRuleYaml, type HttpRule, type RuleIssue, type RuleSet } from '@ficus/contracts';

const RULE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const FIELDS = new Set(['rules', 'reason', 'by']);
const MAX_TEXT = 500;

export interface EmergencyOverride {
  /** 'all': every HTTP rule but retired ones (legacy is gone for those); else the rules named */
  rules: 'all' | readonly string[];
  reason?: string;
  by?: string;
}

export type EmergencyRead = { ok: true; override: EmergencyOverride } | { ok: false; issues: string[] };

/**
 * Reads the file's text. Anything unclear is refused with file:line: reason, and the caller keeps
 * what it had: an override that silently did less than written would be worse than none.
 */
export function readEmergencyOverride(text: string, file: string): EmergencyRead {
  const { doc, syntax } = parseRuleYaml(text, file);
  if (syntax.length > 0) return { ok: false, issues: syntax.map(formatIssue) };
  const issues: RuleIssue[] = [];
  const refuse = (path: (string | number)[], reason: string) => issues.push({ ...doc.locate!(path), pointer: '', reason });
  const data = doc.data;
  if (data === null || data === undefined) {
    refuse([], 'empty: name the rules (`rules: [patients-read]` or `rules: all`); to end the override, remove the file');
    return { ok: false, issues: issues.map(formatIssue) };
  }
  if (typeof data !== 'object' || Array.isArray(data)) {
    refuse([], 'not a mapping: write `rules: [patients-read]` or `rules: all`, with `reason:` and `by:`');
    return { ok: false, issues: issues.map(formatIssue) };
  }
  const fields = data as Record<string, unknown>;
  for (const key of Object.keys(fields)) if (!FIELDS.has(key)) refuse([key], `unknown field "${key}" (known: rules, reason, by)`);
  const rules = fields.rules;
  let named: EmergencyOverride['rules'] = [];
  if (rules === undefined) refuse([], 'no "rules": name the rules (`rules: [patients-read]`) or `rules: all`');
  else if (rules === 'all') named = 'all';
  else if (typeof rules === 'string' && RULE_ID.test(rules)) named = [rules];
  else if (!Array.isArray(rules)) refuse(['rules'], '"rules" is `all` or a list of rule ids');
  else if (rules.length === 0) refuse(['rules'], '"rules" is empty: name at least one rule; to end the override, remove the file');
  else {
    rules.forEach((id, i) => {
      if (typeof id !== 'string' || !RULE_ID.test(id)) refuse(['rules', i], `not a rule id: ${JSON.stringify(id)}`);
    });
    named = [...new Set(rules as string[])];
  }
  for (const key of ['reason', 'by'] as const) {
    const v = fields[key];
    if (v !== undefined && (typeof v !== 'string' || v.length === 0 || v.length > MAX_TEXT)) refuse([key], `"${key}" is a text of 1 to ${MAX_TEXT} characters`);
  }
  if (issues.length > 0) return { ok: false, issues: issues.map(formatIssue) };
  const reason = fields.reason as string | undefined;
  const by = fields.by as string | undefined;
  return { ok: true, override: { rules: named, ...(reason ? { reason } : {}), ...(by ? { by } : {}) } };
}

export interface FoldedRules {
  ruleSet: RuleSet;
  /** the rules the override holds in legacy (already in legacy or not) */
  pinned: ReadonlySet<string>;
  /** rules the file names that the rule set does not have (a warning: the rules may change) */
  unknown: string[];
  /** rules the file names that are HL7 rules: the HL7 adapter's, which the file does not reach */
  hl7: string[];
  /** rules `all` leaves as they are: retired, legacy is gone for them */
  retired: string[];
}

function toLegacy(rule: HttpRule): HttpRule {
  if (rule.mode === 'legacy') return rule;
  // a percent goes with canary alone; the target stays (in legacy it sends nothing anywhere)
  const { percent: _percent, ...rest } = rule;
  return { ...rest, mode: 'legacy' };
}

/** The rule set as this instance serves it under the override (none: as it is). */
export function foldEmergency(ruleSet: RuleSet, override: EmergencyOverride | undefined): FoldedRules {
  if (!override) return { ruleSet, pinned: new Set(), unknown: [], hl7: [], retired: [] };
  const named = override.rules === 'all' ? undefined : new Set(override.rules);
  const pinned = new Set<string>();
  const retired: string[] = [];
  const http = ruleSet.http.map((rule) => {
    if (named ? !named.has(rule.id) : rule.mode === 'retired') {
      if (!named) retired.push(rule.id);
      return rule;
    }
    pinned.add(rule.id);
    return toLegacy(rule);
  });
  const hl7Ids = new Set((ruleSet.hl7 ?? []).map((r) => r.id));
  const missing = named ? [...named].filter((id) => !pinned.has(id)) : [];
  return { ruleSet: { ...ruleSet, http }, pinned, unknown: missing.filter((id) => !hl7Ids.has(id)), hl7: missing.filter((id) => hl7Ids.has(id)), retired };
}
