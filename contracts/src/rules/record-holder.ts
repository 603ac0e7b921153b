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

/**
 * Whether the emergency override file (break glass) takes the record from the service: the
 * gateway and the HL7 adapter then send the record rule's traffic to legacy whatever the rules
 * say, so the legacy holds the record in fact, and a service or legacy writer still following
 * the rules would put the service's values over the legacy's edits. A rule the file names, or,
 * with `all`, any rule but a retired one (the gateway leaves those: legacy is gone for them); a
 * rule the rule set does not have (rules not known yet) counts as not retired.
 */
export function emergencyHoldsRecord(override: { rules: 'all' | readonly string[] } | undefined, ruleSet: RuleSet, recordRule: string): boolean {
  if (!override) return false;
  if (override.rules !== 'all') return override.rules.includes(recordRule);
  return recordHolderIn(ruleSet, recordRule).mode !== 'retired';
}
