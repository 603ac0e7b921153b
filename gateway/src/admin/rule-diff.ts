/**
 * What changed between two rule sets, field by field: rules added, removed, moved (order is
 * meaning: first match wins) and changed, and upstreams added, removed and changed.
 */
import type { HttpRule, RuleSet } from '@ficus/contracts';

export interface FieldChange {
  /** dotted path inside the rule or upstream (match.methods, timeouts.connectMs) */
  field: string;
  from?: unknown;
  to?: unknown;
}

export interface RuleSetDiff {
  rules: {
    added: { id: string; index: number }[];
    removed: { id: string; index: number }[];
    moved: { id: string; from: number; to: number }[];
    changed: { id: string; changes: FieldChange[] }[];
  };
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

export function diffRuleSets(a: RuleSet, b: RuleSet): RuleSetDiff {
  const indexA = new Map(a.http.map((r, i) => [r.id, i]));
  const indexB = new Map(b.http.map((r, i) => [r.id, i]));
  const byIdA = new Map<string, HttpRule>(a.http.map((r) => [r.id, r]));
  const rules: RuleSetDiff['rules'] = { added: [], removed: [], moved: [], changed: [] };
  b.http.forEach((r, i) => {
    if (!indexA.has(r.id)) rules.added.push({ id: r.id, index: i });
  });
  a.http.forEach((r, i) => {
    if (!indexB.has(r.id)) rules.removed.push({ id: r.id, index: i });
  });
  // order among the rules both sets keep
  const keptA = a.http.filter((r) => indexB.has(r.id)).map((r) => r.id);
  const keptB = b.http.filter((r) => indexA.has(r.id)).map((r) => r.id);
  keptB.forEach((id, i) => {
    if (keptA[i] !== id) rules.moved.push({ id, from: indexA.get(id)!, to: indexB.get(id)! });
  });
  for (const r of b.http) {
    const old = byIdA.get(r.id);
    if (!old) continue;
    const changes = fieldChanges(old, r);
    if (changes.length) rules.changed.push({ id: r.id, changes });
  }
  const upstreams: RuleSetDiff['upstreams'] = { added: [], removed: [], changed: [] };
  for (const name of Object.keys(b.upstreams)) if (!(name in a.upstreams)) upstreams.added.push(name);
  for (const name of Object.keys(a.upstreams)) {
    if (!(name in b.upstreams)) upstreams.removed.push(name);
    else {
      const changes = fieldChanges(a.upstreams[name], b.upstreams[name]);
      if (changes.length) upstreams.changed.push({ name, changes });
    }
  }
  const identical =
    !rules.added.length && !rules.removed.length && !rules.moved.length && !rules.changed.length && !upstreams.added.length && !upstreams.removed.length && !upstreams.changed.length;
  return { rules, upstreams, identical };
}
