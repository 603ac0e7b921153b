/**
 * Changes to a rule set, as pure functions: a flip of one rule.
 * Whether the result is valid is for validateRuleDocuments to say.
 */
import type { Hl7Rule, HttpMode, HttpRule, Hl7Mode, RuleSet } from '@ficus/contracts';

export interface Flip {
  mode: HttpMode | Hl7Mode;
  percent?: number;
  target?: string;
}

/** A flip that says something the mode cannot mean (answered 422, nothing changed). */
export class InvalidFlipError extends Error {
  readonly statusCode = 422;
}

export class UnknownRuleError extends Error {
  constructor(readonly ruleId: string) {
    super(`no rule "${ruleId}"`);
  }
}

type AnyRule = HttpRule | Hl7Rule;

/** The rule set with one rule's mode (and percent, target) changed; other rules untouched. */
export function applyFlip(ruleSet: RuleSet, ruleId: string, flip: Flip): { ruleSet: RuleSet; before: AnyRule; after: AnyRule } {
  const httpIndex = ruleSet.http.findIndex((r) => r.id === ruleId);
  if (httpIndex >= 0) {
    const before = ruleSet.http[httpIndex]!;
    const after = { ...before, mode: flip.mode } as HttpRule;
    // a percent belongs to the canary it sets: kept on another mode it would come back unseen
    // the next time someone flips to canary without one
    if (flip.mode !== 'canary') {
      if (flip.percent !== undefined) throw new InvalidFlipError(`a percent is for mode canary only: rule "${ruleId}" flipped to ${flip.mode} takes none`);
      delete after.percent;
    } else if (flip.percent !== undefined) after.percent = flip.percent;
    else if (before.mode !== 'canary') throw new InvalidFlipError(`a flip to canary needs a percent: rule "${ruleId}" is in mode ${before.mode}`);
    if (flip.target !== undefined) after.target = flip.target;
    const http = [...ruleSet.http];
    http[httpIndex] = after;
    return { ruleSet: { ...ruleSet, http }, before, after };
  }
  const hl7Index = ruleSet.hl7?.findIndex((r) => r.id === ruleId) ?? -1;
  if (hl7Index < 0) throw new UnknownRuleError(ruleId);
  const before = ruleSet.hl7![hl7Index]!;
  // an HL7 rule has no percent; the validator refuses one if given
  const after = { ...before, mode: flip.mode, ...(flip.percent !== undefined ? { percent: flip.percent } : {}) } as Hl7Rule;
  if (flip.target !== undefined) after.target = flip.target;
  const hl7 = [...ruleSet.hl7!];
  hl7[hl7Index] = after;
  return { ruleSet: { ...ruleSet, hl7 }, before, after };
}
