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
  ) {
    super(`${change} loosens the parity gate of ${weakened.map((w) => `rule "${w.rule}" (${w.what})`).join(', ')}: removing or loosening a parity gate needs the role "admin"`);
  }
}

const rulesOf = (s: RuleSet): (HttpRule | Hl7Rule)[] => [...s.http, ...(s.hl7 ?? [])];

const shown = (g: ResolvedGate): WeakenedGate['from'] => ({ threshold: g.threshold, minCompared: g.minCompared, window: g.window, ...(g.gateAbovePercent !== undefined ? { gateAbovePercent: g.gateAbovePercent } : {}) });

/** What makes `now` open where `was` may hold: less evidence, a canary let further, another window (either way it counts other requests). */
function loosened(was: ResolvedGate, now: ResolvedGate): string[] {
  const out: string[] = [];
  if (now.threshold < was.threshold) out.push(`threshold ${was.threshold} → ${now.threshold}`);
  if (now.minCompared < was.minCompared) out.push(`minCompared ${was.minCompared} → ${now.minCompared}`);
  if (now.window !== was.window) out.push(`window ${was.window} → ${now.window}`);
  if (was.gateAbovePercent !== undefined && (now.gateAbovePercent === undefined || now.gateAbovePercent > was.gateAbovePercent)) {
    out.push(`gateAbovePercent ${was.gateAbovePercent} → ${now.gateAbovePercent ?? 'none (any canary ungated)'}`);
  }
  return out;
}

/** The gates of `before` that `after` removes (with the rule or alone) or loosens. */
export function weakenedGates(before: RuleSet, after: RuleSet): WeakenedGate[] {
  const next = new Map(rulesOf(after).map((r) => [r.id, r]));
  const out: WeakenedGate[] = [];
  for (const rule of rulesOf(before)) {
    const was = resolveGate(rule.parity);
    if (!was) continue;
    const successor = next.get(rule.id);
    const now = resolveGate(successor?.parity);
    if (!now) {
      // a rule removed now can come back later without its gate
      out.push({ rule: rule.id, from: shown(was), what: successor ? 'gate removed' : 'rule removed, with its gate' });
      continue;
    }
    const how = loosened(was, now);
    if (how.length > 0) out.push({ rule: rule.id, from: shown(was), to: shown(now), what: how.join(', ') });
  }
  return out;
}
