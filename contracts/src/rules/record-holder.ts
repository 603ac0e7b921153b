/**
 * Who holds the record of a service's rows, as the rules say it: the service while its record
 * rule (patients-write, lab-results) is in a mode that sends all its writes there, else the
 * legacy. One reading for the services (system-of-record.ts) and the CDC deployable's legacy
 * writer (writeback/record-holder.ts): were they to read a mode differently, the writer would
 * write over a legacy save the service had yielded to, or the other way round.
 */
import type { RuleSet } from './model.js';

export type RecordHolder = 'legacy' | 'service';

const SERVICE_RECORD_MODES: readonly string[] = ['new', 'retired'];

/** the record rule's mode, and who holds the record by it (no such rule: the legacy) */
export function recordHolderIn(ruleSet: RuleSet, recordRule: string): { holder: RecordHolder; mode: string | null } {
  const rule = [...ruleSet.http, ...(ruleSet.hl7 ?? [])].find((r) => r.id === recordRule);
  return { holder: rule && SERVICE_RECORD_MODES.includes(rule.mode) ? 'service' : 'legacy', mode: rule?.mode ?? null };
}
