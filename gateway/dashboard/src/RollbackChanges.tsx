/**
 * What a rollback changes, read from the admin API's diff of the current rules (the dialog's base)
 * and the target's. The target version's own summary says what that version once changed from the
 * one before it, which is not what rolling back to it does now: rolling back to "patients-search:
 * legacy → new" from a later version also takes every later flip back, an HL7 rule's included.
 */
import { useEffect, useState } from 'preact/hooks';
import { get, refusalText } from './api';

interface FieldChange {
  field: string;
  from?: unknown;
  to?: unknown;
}
interface RulesDiff {
  added: { id: string }[];
  removed: { id: string }[];
  moved: { id: string; from: number; to: number }[];
  changed: { id: string; changes: FieldChange[] }[];
}
interface RuleSetDiff {
  rules: RulesDiff;
  hl7: RulesDiff;
  upstreams: { added: string[]; removed: string[]; changed: { name: string; changes: FieldChange[] }[] };
  identical: boolean;
}

const value = (v: unknown) => (v === undefined ? '(none)' : typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v));
const fields = (changes: FieldChange[]) => changes.map((c) => `${c.field} ${value(c.from)} → ${value(c.to)}`).join(', ');

/** one line per rule or upstream it touches, in the words of the diff */
export function describeDiff(d: RuleSetDiff): string[] {
  const rules = (r: RulesDiff, tag: string) => [
    ...r.changed.map((c) => `${c.id}${tag}: ${fields(c.changes)}`),
    ...r.added.map((a) => `${a.id}${tag}: put back`),
    ...r.removed.map((a) => `${a.id}${tag}: removed`),
    ...r.moved.map((m) => `${m.id}${tag}: moved from position ${m.from + 1} to ${m.to + 1}`),
  ];
  return [
    ...rules(d.rules, ''),
    ...rules(d.hl7, ' (HL7)'),
    ...d.upstreams.changed.map((u) => `upstream ${u.name}: ${fields(u.changes)}`),
    ...d.upstreams.added.map((n) => `upstream ${n}: put back`),
    ...d.upstreams.removed.map((n) => `upstream ${n}: removed`),
  ];
}

export function RollbackChanges({ base, to }: { base: number; to: number }) {
  const [lines, setLines] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let gone = false;
    get<{ diff: RuleSetDiff }>(`/api/versions/${base}/diff/${to}`).then(
      (r) => !gone && setLines(describeDiff(r.diff)),
      (e: unknown) => !gone && setError(refusalText(e)),
    );
    return () => {
      gone = true;
    };
  }, [base, to]);
  if (error) return <p class="error">Cannot read what it changes: {error}</p>;
  if (!lines) return <p class="muted">Reading what it changes…</p>;
  if (lines.length === 0) return <p data-testid="rollback-changes">Nothing changes: version {to} has the rules of version {base}.</p>;
  return (
    <div data-testid="rollback-changes">
      <p>What it changes from version {base}:</p>
      <ul>
        {lines.map((l) => (
          <li key={l}>{l}</li>
        ))}
      </ul>
    </div>
  );
}
