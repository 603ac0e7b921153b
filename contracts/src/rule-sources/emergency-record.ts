/**
 * The emergency override file read by those who decide who holds a service's record (the
 * services' system of record, the CDC deployable's legacy writer): the gateway's file, through
 * the same reader and watcher, holding the record rules it names (or `all`) in legacy. Without
 * it, break glass sent a rule's writes to legacy while the service still believed it held the
 * record, and legacy edits lost to the service's values (record-holder.ts emergencyHoldsRecord).
 * No audit of its own: the gateway and the HL7 adapter audit the same file.
 */
import type { Logger } from '../logger.js';
import { emergencyHoldsRecord } from '../rules/record-holder.js';
import type { RuleSet } from '../rules/model.js';
import { EmergencyOverrideFile, type EmergencyFold } from './emergency-file.js';

/** the rules served until the reader's own are known: `all` then holds every record rule */
const NO_RULES: RuleSet = { upstreams: {}, http: [] };

/** `pinned`: the record rules the file holds in legacy */
export type RecordEmergencyFile = EmergencyOverrideFile<EmergencyFold, { recordInLegacy: string[] }>;

export function openRecordEmergency(o: {
  file: string;
  log: Logger;
  /** the reader, in the log (`patient-service`, `cdc`) */
  component: string;
  /** the record rules this reader follows */
  recordRules: readonly string[];
  /** the record rules the file holds in legacy now, whenever the file or the rules change */
  install: (held: ReadonlySet<string>) => void;
}): RecordEmergencyFile {
  const file: RecordEmergencyFile = new EmergencyOverrideFile<EmergencyFold, { recordInLegacy: string[] }>({
    file: o.file,
    log: o.log,
    component: o.component,
    // other rules the file names are the gateway's and the adapter's business: no "unknown" warnings here
    fold: (ruleSet, override) => ({ ruleSet, pinned: new Set(o.recordRules.filter((r) => emergencyHoldsRecord(override, ruleSet, r))), unknown: [] }),
    install: (f) => o.install(f.pinned),
    describe: (f) => ({ status: { recordInLegacy: [...f.pinned] }, log: { component: o.component, recordInLegacy: [...f.pinned] } }),
  });
  // served before the file is read, so that an override found at start is applied (and logged) even while the rules are unknown
  file.serve(NO_RULES);
  return file;
}
