/**
 * What the admin API's refusals of a flip or a rollback mean to the person in the dialog. No
 * imports: the unit test runs it under Node.
 */
export interface ProblemBody {
  type?: string;
  title?: string;
  detail?: string;
  [k: string]: unknown;
}

/** A 409 stale-version: another change was made after the dialog was opened. */
export interface StaleVersion {
  /** the version the dialog was opened on, and sent as baseVersion */
  opened: number;
  current: number;
  /** the latest version, when the API says who made it */
  latest?: { version: number; author: string; createdAt?: string; reason?: string; summary?: string };
}

const isSlug = (p: ProblemBody, slug: string) => typeof p.type === 'string' && p.type.endsWith(`/problems/${slug}`);
const str = (x: unknown) => (typeof x === 'string' ? x : undefined);

export function staleVersion(status: number, p: ProblemBody): StaleVersion | null {
  // other 409s (a dead letter's unsafe replay) are not about versions
  if (status !== 409 || !isSlug(p, 'stale-version') || typeof p.currentVersion !== 'number' || typeof p.baseVersion !== 'number') return null;
  const c = p.current as Record<string, unknown> | undefined;
  const latest =
    c && typeof c.version === 'number' && typeof c.author === 'string'
      ? { version: c.version, author: c.author, createdAt: str(c.createdAt), reason: str(c.reason), summary: str(c.summary) }
      : undefined;
  return { opened: p.baseVersion, current: p.currentVersion, ...(latest ? { latest } : {}) };
}

interface Gate {
  rule: string;
  move: string;
  parity: number | null;
  compared: number;
  threshold: number;
  minCompared: number;
  window: string;
  /** absent from refusals made before the gate counted keys */
  keys?: number;
  mismatchedKeys?: number;
  keyParity?: number | null;
  minKeys?: number;
}

const isGate = (g: unknown): g is Gate => typeof g === 'object' && g !== null && typeof (g as Gate).rule === 'string' && typeof (g as Gate).compared === 'number';

/**
 * A 422 parity-gate refusal, from its figures. The API's own detail ends with how to force it in
 * JSON (`"force": true`), which is for API and CLI callers; in the dialog the way past the gate is
 * the force checkbox, shown to admins only.
 */
export function gateRefusal(p: ProblemBody, canForce: boolean): string | null {
  if (!isSlug(p, 'parity-gate')) return null;
  const gates = Array.isArray(p.gates) ? p.gates.filter(isGate) : [];
  const figures = gates.length
    ? gates
        .map((g) => {
          const measured = g.parity === null ? 'nothing compared' : `parity ${g.parity.toFixed(4)} over ${g.compared} compared requests`;
          const byKey = g.minKeys === undefined ? '' : `; by key: ${g.keyParity == null ? 'no key compared' : `parity ${g.keyParity.toFixed(4)} over ${g.keys ?? 0} distinct keys, ${g.mismatchedKeys ?? 0} with a mismatch`}, the gate needs as much over ≥ ${g.minKeys} distinct keys`;
          return `rule "${g.rule}" ${g.move}: ${measured} in the last ${g.window}; the gate needs parity ≥ ${g.threshold} over ≥ ${g.minCompared} compared requests${byKey}`;
        })
        .join('; ')
    : (p.detail ?? '').replace(/\s*An admin may force it\b.*$/s, '');
  const way = canForce
    ? 'To go past it, tick "Force past a closed parity gate" above and confirm again (audited as forced).'
    : 'Only an admin can force a change past a closed gate.';
  return `${p.title ?? 'Parity gate closed'}: ${figures}. ${way}`;
}
