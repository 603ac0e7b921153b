/**
 * The guard against a rule change that silently drops routing for every clinical request: a
 * valid rule set can still answer every request 404 (no HTTP rules), refuse every HL7 message
 * AR (no HL7 rules: senders treat AR as final, the messages are lost) or 404 whatever no
 * specific rule takes (the catch-all gone). Each is compared with what serves now, so a
 * deployment that never had HL7 rules, or never had a catch-all, may go on without them.
 *
 * Every path that changes the served rules asks this one function: the rule folder source, the
 * control plane (apply, import, flip, rollback) and `ficus rules validate | import`.
 */
import type { HttpRule, RuleSet } from './model.js';
import { parsePathPattern, PatternError } from './path-pattern.js';

export type RoutingLossKind = 'http-rules' | 'hl7-rules' | 'catch-all';

export interface RoutingLoss {
  kind: RoutingLossKind;
  /** the catch-all rule that serves now (kind catch-all) */
  ruleId?: string;
  /** how many rules of the section serve now */
  servingNow: number;
  reason: string;
}

/** How an admin applies such a change anyway, said in every refusal. */
export const ALLOW_REMOVAL_HINT = 'an admin may apply it anyway with "allowRemoval": true (`ficus rules import --allow-removal`, `ficus rules rollback --allow-removal`), audited';

const matchesEveryPath = (source: string): boolean => {
  try {
    const p = parsePathPattern(source);
    return p.open && p.segments.length === 1;
  } catch (e) {
    if (e instanceof PatternError) return false;
    throw e;
  }
};

/** A rule that matches every request: `/**` for every method, with no header or query predicate. */
export function isCatchAll(rule: HttpRule): boolean {
  const paths = rule.match.paths ?? (rule.match.path !== undefined ? [rule.match.path] : []);
  return paths.some(matchesEveryPath) && !rule.match.methods && !rule.match.headers && !rule.match.query;
}

/** What `after` stops routing that `before` routes now; empty when nothing is lost. */
export function routingLosses(before: RuleSet, after: RuleSet): RoutingLoss[] {
  const out: RoutingLoss[] = [];
  const httpNow = before.http.length;
  if (httpNow > 0 && after.http.length === 0) {
    out.push({ kind: 'http-rules', servingNow: httpNow, reason: `the change leaves no HTTP rules (${httpNow} serve now): every request would get 404` });
  } else {
    const catchAll = before.http.find(isCatchAll);
    if (catchAll && !after.http.some(isCatchAll)) {
      const still = after.http.some((r) => r.id === catchAll.id);
      out.push({
        kind: 'catch-all',
        ruleId: catchAll.id,
        servingNow: httpNow,
        reason: `${still ? 'no longer takes every request, but it is' : 'the change removes'} the catch-all ("/**" for every method) that serves now: requests no other rule takes would get 404`,
      });
    }
  }
  const hl7Now = before.hl7?.length ?? 0;
  if (hl7Now > 0 && (after.hl7?.length ?? 0) === 0) {
    out.push({ kind: 'hl7-rules', servingNow: hl7Now, reason: `the change leaves no HL7 rules (${hl7Now} serve now): every HL7 message would be refused (AR), and senders treat AR as final` });
  }
  return out;
}
