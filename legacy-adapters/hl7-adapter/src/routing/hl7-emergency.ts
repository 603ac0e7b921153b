/**
 * The emergency override ("break glass") on the HL7 rules: the gateway's file, read by the same
 * reader and watcher (@ficus/contracts EmergencyOverrideFile), holds the HL7 rules it names, or
 * every one, in mode legacy (the legacy inbound only) whatever the rule store serves: the way back
 * to legacy for ADT or results when the store itself is the incident. Names of HTTP rules are the
 * gateway's and are left to it, as the gateway leaves HL7 names to this adapter. Only messages
 * received from then on are routed so: a stored message keeps the deliveries it was given, as
 * after a flip.
 */
import { EmergencyOverrideFile, type AuditEntry, type EmergencyFold, type EmergencyOverride, type Hl7Rule, type Logger, type RuleSet } from '@ficus/contracts';

export interface Hl7FoldedRules extends EmergencyFold {
  /** rules the file names that are HTTP rules: the gateway's, not this adapter's */
  http: string[];
}

/** HTTP rule ids the file names (the gateway's) */
export type Hl7EmergencyNotes = { http: string[] };

export type Hl7EmergencyFile = EmergencyOverrideFile<Hl7FoldedRules, Hl7EmergencyNotes>;

function toLegacy(rule: Hl7Rule): Hl7Rule {
  // the target stays: in legacy it only names the service a replay may feed
  return rule.mode === 'legacy' ? rule : { ...rule, mode: 'legacy' };
}

/** The HL7 rules as this instance serves them under the override (none: as they are). */
export function foldHl7Emergency(ruleSet: RuleSet, override: EmergencyOverride | undefined): Hl7FoldedRules {
  if (!override) return { ruleSet, pinned: new Set(), unknown: [], http: [] };
  const named = override.rules === 'all' ? undefined : new Set(override.rules);
  const pinned = new Set<string>();
  const hl7 = (ruleSet.hl7 ?? []).map((rule) => {
    if (named && !named.has(rule.id)) return rule;
    pinned.add(rule.id);
    return toLegacy(rule);
  });
  const httpIds = new Set(ruleSet.http.map((r) => r.id));
  const missing = named ? [...named].filter((id) => !pinned.has(id)) : [];
  return { ruleSet: { ...ruleSet, hl7 }, pinned, unknown: missing.filter((id) => !httpIds.has(id)), http: missing.filter((id) => httpIds.has(id)) };
}

export function openHl7Emergency(o: {
  file: string;
  log: Logger;
  /** installs the HL7 rules as served, `pinned` held in legacy by the override */
  install: (ruleSet: RuleSet, pinned: ReadonlySet<string>) => void;
  audit: { append(e: AuditEntry): Promise<void> };
}): Hl7EmergencyFile {
  return new EmergencyOverrideFile({
    file: o.file,
    log: o.log,
    component: 'hl7-adapter',
    audit: o.audit,
    fold: foldHl7Emergency,
    install: (f) => o.install(f.ruleSet, f.pinned),
    describe: (f) => ({ status: { http: f.http }, log: f.http.length ? { httpRulesNotCovered: f.http } : {} }),
  });
}
