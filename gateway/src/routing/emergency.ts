/**
 * The emergency override ("break glass") on the gateway's HTTP rules: the file (read by
 * @ficus/contracts' readEmergencyOverride, the same reader as the HL7 adapter's) pins named HTTP
 * rules, or every one, to mode legacy whatever the rule store serves, for an incident in which the
 * store cannot take a rollback. It only ever moves traffic towards legacy, so it needs no parity
 * gate and no token. It is folded into the rule set before the router is compiled: the proxy never
 * looks at it per request.
 */
import type { EmergencyFold, EmergencyOverride, HttpRule, RuleSet } from '@ficus/contracts';

export interface FoldedRules extends EmergencyFold {
  /** rules the file names that are HL7 rules: not the gateway's (the HL7 adapter reads the same file for those) */
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
