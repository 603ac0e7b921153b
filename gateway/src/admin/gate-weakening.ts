/**
 * A parity gate is the evidence a rule needs before patients go to the new service. Removing
 * or loosening one takes the role that may force past it (admin): else an operator could roll
 * back to a version from before the gate, then flip freely, the gate gone without a trace.
 */
import { resolveGate, type Hl7Rule, type HttpRule, type ResolvedGate, type RuleSet, type WeakenedGate } from '@ficus/contracts';

export class GateWeakeningError extends Error {
  constructor(
    readonly weakened: WeakenedGate[],
    change: string,
    /** what the caller may do instead (an operator in an incident: flip each rule back to legacy) */
    readonly instead: string[] = [],
  ) {
    const loosens = `${change} loosens the parity gate of ${weakened.map((w) => `rule "${w.rule}" (${w.what})`).join(', ')}: removing or loosening a parity gate needs the role "admin"`;
    super(instead.length > 0 ? `${loosens}. To send the rules back to legacy, an operator may run: ${instead.join('; ')}` : loosens);
  }
}

/** The flips that take each rule `after` moves or drops back to legacy: what an operator may always do. */
export function flipsToLegacy(before: RuleSet, after: RuleSet): string[] {
  const next = new Map(rulesOf(after).map((r) => [r.id, r]));
  return rulesOf(before)
    .filter((r) => {
      const n = next.get(r.id);
      return r.mode !== 'legacy' && (!n || n.mode !== r.mode || n.target !== r.target || ('percent' in n ? n.percent : undefined) !== ('percent' in r ? r.percent : undefined));
    })
    .map((r) => `ficus rules flip ${r.id} --mode legacy --reason "..."`);
}

/**
 * `after` with the gates of `before` kept wherever `after`'s would remove or loosen them, and
 * the gates kept. A rule `after` drops takes its gate with it: that one is left to say.
 */
export function keepGates(before: RuleSet, after: RuleSet): { ruleSet: RuleSet; kept: WeakenedGate[] } {
  const http = new Map(before.http.map((r) => [r.id, r]));
  const hl7 = new Map((before.hl7 ?? []).map((r) => [r.id, r]));
  const kept: WeakenedGate[] = [];
  const keep = <R extends HttpRule | Hl7Rule>(r: R, was: R | undefined): R => {
    const w = was && weakenedGate(was, r);
    if (!w) return r;
    kept.push(w);
    return { ...r, parity: was.parity };
  };
  const ruleSet: RuleSet = { ...after, http: after.http.map((r) => keep(r, http.get(r.id))), ...(after.hl7 ? { hl7: after.hl7.map((r) => keep(r, hl7.get(r.id))) } : {}) };
  return { ruleSet, kept };
}

const rulesOf = (s: RuleSet): (HttpRule | Hl7Rule)[] => [...s.http, ...(s.hl7 ?? [])];

const shown = (g: ResolvedGate): WeakenedGate['from'] => ({ threshold: g.threshold, minCompared: g.minCompared, window: g.window, ...(g.gateAbovePercent !== undefined ? { gateAbovePercent: g.gateAbovePercent } : {}) });

/** What makes `now` open where `was` may hold: less evidence, a canary let further, another window (either way it counts other requests). */
function loosened(was: ResolvedGate, now: ResolvedGate, keysSet: boolean): string[] {
  const out: string[] = [];
  if (now.threshold < was.threshold) out.push(`threshold ${was.threshold} → ${now.threshold}`);
  if (now.minCompared < was.minCompared) out.push(`minCompared ${was.minCompared} → ${now.minCompared}`);
  // minKeys left out follows minCompared: said once, as minCompared's change
  if (now.minKeys < was.minKeys && keysSet) out.push(`minKeys ${was.minKeys} → ${now.minKeys}`);
  if (now.window !== was.window) out.push(`window ${was.window} → ${now.window}`);
  if (was.gateAbovePercent !== undefined && (now.gateAbovePercent === undefined || now.gateAbovePercent > was.gateAbovePercent)) {
    out.push(`gateAbovePercent ${was.gateAbovePercent} → ${now.gateAbovePercent ?? 'none (any canary ungated)'}`);
  }
  return out;
}

/** How `successor` (absent: the rule removed) removes or loosens the gate of `rule`, if it does. */
function weakenedGate(rule: HttpRule | Hl7Rule, successor: HttpRule | Hl7Rule | undefined): WeakenedGate | undefined {
  const was = resolveGate(rule.parity);
  if (!was) return undefined;
  const now = resolveGate(successor?.parity);
  // a rule removed now can come back later without its gate
  if (!now) return { rule: rule.id, from: shown(was), what: successor ? 'gate removed' : 'rule removed, with its gate' };
  const how = loosened(was, now, rule.parity?.minKeys !== undefined || successor?.parity?.minKeys !== undefined);
  return how.length > 0 ? { rule: rule.id, from: shown(was), to: shown(now), what: how.join(', ') } : undefined;
}

/** The gates of `before` that `after` removes (with the rule or alone) or loosens. */
export function weakenedGates(before: RuleSet, after: RuleSet): WeakenedGate[] {
  const next = new Map(rulesOf(after).map((r) => [r.id, r]));
  return rulesOf(before).flatMap((rule) => weakenedGate(rule, next.get(rule.id)) ?? []);
}
