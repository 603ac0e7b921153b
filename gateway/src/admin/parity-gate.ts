/**
 * The flip gate: a rule with a `parity` section cannot go to `new` (or `retired`), nor a canary
 * above its `gateAbovePercent`, unless the parity measured over its window is at least its
 * threshold over at least `minCompared` compared requests, and the parity by key (a patient who
 * differed once counts as differing) at least the same over at least `minKeys` distinct keys:
 * one good patient read 450 times is no evidence for the others. A rule without a `parity` section is
 * not gated (the rule files shipped before shadowing existed keep working as they did). Flips,
 * imports and rollbacks all go through it; a move back toward legacy never does.
 *
 * Parity is counted per rule id, not per target, yet a comparison says how one service answered:
 * so the figures count only the minutes in which the rule compared against the target the change
 * sends it to, and a change of target starts the rule's exposure from nothing. Keys are kept per
 * target: only those compared against the move's target count.
 */
import { gateOpen, parityOf, resolveGate, type GateFigures, type Hl7Rule, type HttpRule, type ParityStore, type ResolvedGate, type RuleSet, type RuleVersion } from '@ficus/contracts';

export type { GateFigures };

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
  /** where the move sends the rule's traffic: the evidence must have been gathered against it */
  target: string | undefined;
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
    // patients flipped from one new service to another have never been seen by the second
    const retargeted = previous !== undefined && previous.target !== rule.target;
    const was = retargeted ? 0 : exposure(previous);
    const now = exposure(rule);
    if (now <= was) continue;
    const to = retargeted ? ` (target ${previous.target ?? 'none'} → ${rule.target ?? 'none'})` : '';
    const move = { rule: rule.id, gate, target: rule.target };
    if (now === 100) out.push({ ...move, move: `to ${rule.mode}${to}` });
    else if (gate.gateAbovePercent !== undefined && now > gate.gateAbovePercent) out.push({ ...move, move: `canary ${now} % (gated above ${gate.gateAbovePercent} %)${to}` });
  }
  return out;
}

const targetOf = (ruleSet: RuleSet, id: string): string | undefined => [...ruleSet.http, ...(ruleSet.hl7 ?? [])].find((r) => r.id === id)?.target;

const MINUTE = 60_000;

/** Minutes since the epoch, both ends included. */
export interface MinuteRange {
  from: number;
  to: number;
}

/**
 * The minutes of a gate's window whose comparisons were made against `target`, read from
 * `history` (newest first, back to the version in force when the window began); undefined: the
 * whole window. Counts are kept per minute, and a copy may end a while after the version that
 * sent it was replaced, so a change of target taints its minute and the next one.
 */
export function evidenceMinutes(history: Pick<RuleVersion, 'createdAt' | 'ruleSet'>[], rule: string, target: string | undefined, windowMinutes: number, now = Date.now()): MinuteRange[] | undefined {
  const current = Math.floor(now / MINUTE);
  const first = current - windowMinutes + 1;
  const counted = new Array<boolean>(windowMinutes).fill(false);
  const mark = (from: number, to: number, value: boolean) => {
    for (let m = Math.max(from, first); m <= Math.min(to, current); m++) counted[m - first] = value;
  };
  let end = current;
  history.forEach((v, i) => {
    const oldest = i === history.length - 1;
    const start = oldest ? Math.min(first, Math.floor(Date.parse(v.createdAt) / MINUTE)) : Math.floor(Date.parse(v.createdAt) / MINUTE);
    if (targetOf(v.ruleSet, rule) === target) mark(start, end, true);
    end = start;
  });
  history.forEach((v, i) => {
    const older = history[i + 1];
    if (older && targetOf(older.ruleSet, rule) !== targetOf(v.ruleSet, rule)) {
      const at = Math.floor(Date.parse(v.createdAt) / MINUTE);
      mark(at, at + 1, false);
    }
  });
  if (counted.every(Boolean)) return undefined;
  const ranges: MinuteRange[] = [];
  counted.forEach((yes, i) => {
    if (!yes) return;
    const last = ranges.at(-1);
    if (last && last.to === first + i - 1) last.to = first + i;
    else ranges.push({ from: first + i, to: first + i });
  });
  return ranges;
}

/** Compared and mismatches of a rule over some minutes of its window, as differences of windows ending now. */
async function countOver(parity: ParityStore, rule: string, window: string, ranges: MinuteRange[], current: number): Promise<{ compared: number; mismatches: number }> {
  const sum = { compared: 0, mismatches: 0 };
  const upTo = async (minutes: number) => (minutes > 0 ? (await parity.figures(minutes, window, [rule]))[0] : undefined);
  for (const r of ranges) {
    const [all, after] = await Promise.all([upTo(current - r.from + 1), upTo(current - r.to)]);
    sum.compared += (all?.compared ?? 0) - (after?.compared ?? 0);
    sum.mismatches += (all?.mismatches ?? 0) - (after?.mismatches ?? 0);
  }
  return sum;
}

/** `minutes`: those of the window whose comparisons were made against the move's target (evidenceMinutes). */
export async function checkGates(moves: (GatedMove & { minutes?: MinuteRange[] | undefined })[], parity: ParityStore, now = Date.now()): Promise<GateFigures[]> {
  const out: GateFigures[] = [];
  for (const m of moves) {
    const f = m.minutes ? await countOver(parity, m.rule, m.gate.window, m.minutes, Math.floor(now / MINUTE)) : (await parity.figures(m.gate.windowMinutes, m.gate.window, [m.rule]))[0];
    const compared = f?.compared ?? 0;
    const mismatches = f?.mismatches ?? 0;
    const p = parityOf(compared, mismatches);
    const k = await parity.keyFigures(m.gate.windowMinutes, m.rule, m.target);
    const keyParity = parityOf(k.keys, k.mismatchedKeys);
    out.push({
      rule: m.rule,
      move: m.move,
      parity: p,
      compared,
      mismatches,
      keys: k.keys,
      mismatchedKeys: k.mismatchedKeys,
      keyParity,
      threshold: m.gate.threshold,
      minCompared: m.gate.minCompared,
      minKeys: m.gate.minKeys,
      window: m.gate.window,
      open: gateOpen({ compared, parity: p, keys: k.keys, keyParity }, m.gate),
      ...(m.minutes ? { target: m.target ?? 'none', countedMinutes: m.minutes.reduce((n, r) => n + r.to - r.from + 1, 0) } : {}),
    });
  }
  return out;
}

export function describeGate(g: GateFigures): string {
  const measured = g.parity === null ? 'nothing compared' : `parity ${g.parity.toFixed(4)} over ${g.compared} compared requests`;
  // keys are kept by target, so they count from the change on; requests only from the minute after the next
  const counted =
    g.countedMinutes !== undefined
      ? `, counting only the ${g.countedMinutes} ${g.countedMinutes === 1 ? 'minute' : 'minutes'} in which it compared against "${g.target}" (not the minute of the change of target, nor the next)`
      : '';
  const byKey = g.keyParity === null ? 'no key compared' : `parity ${g.keyParity.toFixed(4)} over ${g.keys} distinct keys, ${g.mismatchedKeys} with a mismatch`;
  return `rule "${g.rule}" ${g.move}: ${measured} in the last ${g.window}${counted}; the gate needs parity ≥ ${g.threshold} over ≥ ${g.minCompared} compared requests; by key: ${byKey}, the gate needs as much over ≥ ${g.minKeys} distinct keys`;
}
