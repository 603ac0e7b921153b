/**
 * The emergency override file ("break glass"): `rules: [ids] | all`, `reason`, `by`. It pins the
 * rules it names, or every one, to mode legacy whatever the rule store serves, for an incident in
 * which the store cannot take a rollback. One reader for every deployable that honours it (the
 * gateway's HTTP rules, the HL7 adapter's HL7 rules): the same file means the same thing to both.
 */
import { parseRuleYaml } from '../rules/load-files.js';
import { formatIssue, type RuleIssue } from '../rules/rule-issues.js';

/** the file's name in FICUS_STATE_DIR when FICUS_EMERGENCY_FILE does not name one */
export const EMERGENCY_FILE_NAME = 'emergency-legacy.yaml';

const RULE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const FIELDS = new Set(['rules', 'reason', 'by']);
const MAX_TEXT = 500;

export interface EmergencyOverride {
  /** 'all': every rule the deployable routes (the gateway leaves retired ones: legacy is gone for those); else the rules named */
  rules: 'all' | readonly string[];
  reason?: string;
  by?: string;
}

export type EmergencyRead = { ok: true; override: EmergencyOverride } | { ok: false; issues: string[] };

/**
 * Reads the file's text. Anything unclear is refused with file:line:column: reason, and the
 * caller keeps what it had: an override that silently did less than written would be worse than none.
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
