/**
 * The flip gate: a rule with a `parity` section cannot go to `new` (or `retired`), nor a canary
 * above its `gateAbovePercent`, unless the parity measured over its window is at least its
 * threshold over at least `minCompared` compared requests. A rule without a `parity` section is
 * not gated (the rule files shipped before shadowing existed keep working as they did). Flips,
 * imports and rollbacks all go through it; a move back toward legacy never does.
 */
import { resolveGate, type Hl7Rule, type HttpRule, type ParityStore, type ResolvedGate, type RuleSet } from '@ficus/contracts';

export interface GateFigures {
  rule: string;
  /** what the change does: "to new", "canary 20 % > 10 %" */
  move: string;
  parity: number | null;
  compared: number;
  mismatches: number;
  threshold: number;
  minCompared: number;
  window: string;
  open: boolean;
}

export class ParityGateError extends Error {
  constructor(readonly refused: GateFigures[]) {
    super(refused.map(describeGate).join('; '));
  }
}

/** How far a rule sends traffic to the new service, in percent. */
function exposure(rule: HttpRule | Hl7Rule | undefined): number {
  if (!rule) return 0;
  if (rule.mode === 'new' || rule.mode === 'retired') return 100;
  if (rule.mode === 'canary') return (rule as HttpRule).percent ?? 0;
  return 0;
}

export interface GatedMove {
  rule: string;
  gate: ResolvedGate;
  move: string;
}

/**
 * The moves of a change that need the gate: more traffic to the new service than before, past
 * what the rule allows ungated. Less traffic, or as much, never needs it. The gate is the one the
 * rule has after the change (a flip keeps it, an import writes it), unless `inForce`: then the
 * gate the rule has before the change decides when there is one, so a rollback to a version
 * from before the gate (or with a looser one) is no way around it.
 */
export function gatedMoves(before: RuleSet, after: RuleSet, inForce = false): GatedMove[] {
  const out: GatedMove[] = [];
  const old = new Map<string, HttpRule | Hl7Rule>([...before.http, ...(before.hl7 ?? [])].map((r) => [r.id, r]));
  for (const rule of [...after.http, ...(after.hl7 ?? [])]) {
    const previous = old.get(rule.id);
    const gate = (inForce ? resolveGate(previous?.parity) : undefined) ?? resolveGate(rule.parity);
    if (!gate) continue;
    const was = exposure(previous);
    const now = exposure(rule);
    if (now <= was) continue;
    if (now === 100) out.push({ rule: rule.id, gate, move: `to ${rule.mode}` });
    else if (gate.gateAbovePercent !== undefined && now > gate.gateAbovePercent) out.push({ rule: rule.id, gate, move: `canary ${now} % (gated above ${gate.gateAbovePercent} %)` });
  }
  return out;
}

export async function checkGates(moves: GatedMove[], parity: ParityStore): Promise<GateFigures[]> {
  const out: GateFigures[] = [];
  for (const m of moves) {
    const [f] = await parity.figures(m.gate.windowMinutes, m.gate.window, [m.rule]);
    const compared = f?.compared ?? 0;
    const p = f?.parity ?? null;
    out.push({
      rule: m.rule,
      move: m.move,
      parity: p,
      compared,
      mismatches: f?.mismatches ?? 0,
      threshold: m.gate.threshold,
      minCompared: m.gate.minCompared,
      window: m.gate.window,
      open: compared >= m.gate.minCompared && p !== null && p >= m.gate.threshold,
    });
  }
  return out;
}

export function describeGate(g: GateFigures): string {
  const measured = g.parity === null ? 'nothing compared' : `parity ${g.parity.toFixed(4)} over ${g.compared} compared requests`;
  return `rule "${g.rule}" ${g.move}: ${measured} in the last ${g.window}; the gate needs parity ≥ ${g.threshold} over ≥ ${g.minCompared} compared requests`;
}
