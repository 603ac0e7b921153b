/**
 * The gateway's emergency override file: the shared watcher (@ficus/contracts
 * EmergencyOverrideFile, the HL7 adapter's too) over the gateway's HTTP rules (routing/emergency.ts),
 * installed into its router and ficus_emergency_override.
 */
import { EMERGENCY_FILE_NAME, EmergencyOverrideFile, type AuditEntry, type EmergencyStatus as SharedStatus, type Logger, type RuleSet } from '@ficus/contracts';
import { foldEmergency, type FoldedRules } from '../routing/emergency.js';
import type { GatewayMetrics } from './metrics.js';

export { EMERGENCY_FILE_NAME };

/** HL7 rule ids the file names (the adapter's), and the retired rules `all` leaves */
type GatewayNotes = { hl7: string[]; retired: string[] };
export type EmergencyStatus = SharedStatus<GatewayNotes>;

export interface EmergencyOptions {
  file: string;
  log: Logger;
  metrics: GatewayMetrics;
  /** compiles and installs the rule set as served, `pinned` answering "legacy (emergency)" */
  install: (ruleSet: RuleSet, pinned: ReadonlySet<string>) => void;
  /** the audit log, when there is a store: apply and removal are recorded once it is reachable */
  audit?: { append(e: AuditEntry): Promise<void> };
}

export class EmergencyFile extends EmergencyOverrideFile<FoldedRules, GatewayNotes> {
  constructor(o: EmergencyOptions) {
    super({
      file: o.file,
      log: o.log,
      component: 'gateway',
      audit: o.audit,
      fold: foldEmergency,
      install: (f) => {
        o.install(f.ruleSet, f.pinned);
        o.metrics.emergencyOverride.reset();
        for (const id of f.pinned) o.metrics.emergencyOverride.set({ rule: id }, 1);
      },
      describe: (f) => ({ status: { hl7: f.hl7, retired: f.retired }, log: f.hl7.length ? { hl7RulesNotCovered: f.hl7 } : {} }),
    });
  }
}
