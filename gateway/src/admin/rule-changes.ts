/**
 * Changes to a rule set, as pure functions: a flip of one rule, and a readable summary of it.
 * Whether the result is valid is for validateRuleDocuments to say.
 */
import type { HttpMode, HttpRule, RuleSet } from '@ficus/contracts';

export interface Flip {
  mode: HttpMode;
  percent?: number;
  target?: string;
}

export class UnknownRuleError extends Error {
  constructor(readonly ruleId: string) {
    super(`no rule "${ruleId}"`);
  }
}

export function describeRule(rule: Pick<HttpRule, 'mode' | 'percent' | 'target'>): string {
  if (rule.mode === 'canary') return `canary ${rule.percent ?? 0} % to ${rule.target ?? '?'}`;
  if (rule.mode === 'legacy') return 'legacy';
  return `${rule.mode} (${rule.target ?? '?'})`;
}

/** The rule set with one rule's mode (and percent, target) changed; other rules untouched. */
export function applyFlip(ruleSet: RuleSet, ruleId: string, flip: Flip): { ruleSet: RuleSet; before: HttpRule; after: HttpRule } {
  const index = ruleSet.http.findIndex((r) => r.id === ruleId);
  if (index < 0) throw new UnknownRuleError(ruleId);
  const before = ruleSet.http[index]!;
  const after: HttpRule = { ...before, mode: flip.mode };
  if (flip.percent !== undefined) after.percent = flip.percent;
  if (flip.target !== undefined) after.target = flip.target;
  const http = [...ruleSet.http];
  http[index] = after;
  return { ruleSet: { upstreams: ruleSet.upstreams, http }, before, after };
}
