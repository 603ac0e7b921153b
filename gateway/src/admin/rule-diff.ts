/**
 * What changed between two rule sets, field by field: rules added, removed, moved (order is
 * meaning: first match wins) and changed, and upstreams added, removed and changed.
 */
import type { RuleSet } from '@ficus/contracts';

export interface FieldChange {
  /** dotted path inside the rule or upstream (match.methods, timeouts.connectMs) */
  field: string;
  from?: unknown;
  to?: unknown;
}

export interface RulesDiff {
  added: { id: string; index: number }[];
  removed: { id: string; index: number }[];
  moved: { id: string; from: number; to: number }[];
  changed: { id: string; changes: FieldChange[] }[];
}

export interface RuleSetDiff {
  rules: RulesDiff;
  /** the HL7 rules, the same way */
  hl7: RulesDiff;
  upstreams: {
    added: string[];
    removed: string[];
    changed: { name: string; changes: FieldChange[] }[];
  };
  /** true when the two rule sets behave the same */
  identical: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Leaf-level differences between two JSON values. */
export function fieldChanges(a: unknown, b: unknown, prefix = ''): FieldChange[] {
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => fieldChanges(a[k], b[k], prefix ? `${prefix}.${k}` : k));
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  const change: FieldChange = { field: prefix || '(value)' };
  if (a !== undefined) change.from = a;
  if (b !== undefined) change.to = b;
  return [change];
}

/** Ordered lists of rules: added, removed, moved (among those kept) and changed. */
function diffRules<R extends { id: string }>(a: R[], b: R[]): RulesDiff {
  const indexA = new Map(a.map((r, i) => [r.id, i]));
  const indexB = new Map(b.map((r, i) => [r.id, i]));
  const byIdA = new Map<string, R>(a.map((r) => [r.id, r]));
  const rules: RulesDiff = { added: [], removed: [], moved: [], changed: [] };
  b.forEach((r, i) => {
    if (!indexA.has(r.id)) rules.added.push({ id: r.id, index: i });
  });
  a.forEach((r, i) => {
    if (!indexB.has(r.id)) rules.removed.push({ id: r.id, index: i });
  });
  const keptA = a.filter((r) => indexB.has(r.id)).map((r) => r.id);
  const keptB = b.filter((r) => indexA.has(r.id)).map((r) => r.id);
  keptB.forEach((id, i) => {
    if (keptA[i] !== id) rules.moved.push({ id, from: indexA.get(id)!, to: indexB.get(id)! });
  });
  for (const r of b) {
    const old = byIdA.get(r.id);
    if (!old) continue;
    const changes = fieldChanges(old, r);
    if (changes.length) rules.changed.push({ id: r.id, changes });
  }
  return rules;
}

const empty = (d: RulesDiff) => !d.added.length && !d.removed.length && !d.moved.length && !d.changed.length;

export function diffRuleSets(a: RuleSet, b: RuleSet): RuleSetDiff {
  const rules = diffRules(a.http, b.http);
  const hl7 = diffRules(a.hl7 ?? [], b.hl7 ?? []);
  const upstreams: RuleSetDiff['upstreams'] = { added: [], removed: [], changed: [] };
  for (const name of Object.keys(b.upstreams)) if (!(name in a.upstreams)) upstreams.added.push(name);
  for (const name of Object.keys(a.upstreams)) {
    if (!(name in b.upstreams)) upstreams.removed.push(name);
    else {
      const changes = fieldChanges(a.upstreams[name], b.upstreams[name]);
      if (changes.length) upstreams.changed.push({ name, changes });
    }
  }
  const identical = empty(rules) && empty(hl7) && !upstreams.added.length && !upstreams.removed.length && !upstreams.changed.length;
  return { rules, hl7, upstreams, identical };
}
