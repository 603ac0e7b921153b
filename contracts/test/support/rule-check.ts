/**
 * The rule files a validation test checks: two documents (the upstreams, the rules) parsed
 * and validated as the gateway does, and the catch-all rule most of them end with.
 */
import { expect } from 'vitest';
import { parseRuleYaml, validateRuleDocuments, type RuleIssue } from '../../src/index.js';

export const UPSTREAMS = `upstreams:
  legacy: { url: http://127.0.0.1:8000 }
  patient-service: { url: http://127.0.0.1:8101 }
`;

export function check(rulesYaml: string, upstreams = UPSTREAMS) {
  const a = parseRuleYaml(upstreams, 'upstreams.yaml');
  const b = parseRuleYaml(rulesYaml, 'http.yaml');
  expect([...a.syntax, ...b.syntax]).toEqual([]);
  return validateRuleDocuments([a.doc, b.doc]);
}

export function errorsOf(rulesYaml: string, upstreams?: string): RuleIssue[] {
  const r = check(rulesYaml, upstreams);
  expect(r.ok).toBe(false);
  return r.ok ? [] : r.errors;
}

export const TAIL = `  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;
