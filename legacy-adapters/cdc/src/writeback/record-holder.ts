/**
 * Who holds the record of a service's rows at the moment the legacy writer applies a write-back
 * that meets a legacy edit it did not carry (legacy-apply.ts). While the service holds it, the
 * service's value is written (the legacy edit is a recorded conflict in the service); while the
 * legacy holds it (the record rule rolled back, or an HL7 message in mode `new` applied by the
 * service while the write rule is in `legacy`), the legacy's edit stays.
 *
 * Asked with the legacy row locked, and read from the rule store each time (its version first,
 * the rule set only when that moved): a legacy save acknowledged after a rollback is committed
 * after the rollback, so a write-back that meets it always sees the rollback. A cached copy
 * (the services' notification) could still say `new` and write an older value over that save.
 * The services decide the same field the same way (service-kit's field-merge.ts), looking at
 * the store again when they do.
 *
 * Break glass: while the emergency override file (the gateway's, FICUS_EMERGENCY_FILE) names a
 * service's record rule, or says `all`, the legacy holds that record whatever the store says (the
 * gateway sends its writes to the legacy), and answering needs no store when the file names it.
 * The file too is looked at as each answer is given (a stat; read when it changed).
 */
import { openRecordEmergency, recordHolderIn, type Logger, type RecordEmergencyFile, type RecordHolder, type RuleSet, type RuleStore } from '@ficus/contracts';
import type { WritebackEmergency } from '@ficus/contracts/api';

export type { RecordHolder };

export interface RecordHolders {
  /** who holds the record of `service`'s rows now; throws when the rule store does not answer (the job is tried again) */
  of(service: string): Promise<RecordHolder>;
}

/**
 * `CDC_WRITEBACK_RECORD_RULES`: `service=rule` pairs, comma-separated, as each service's
 * `*_RECORD_RULE`; `service=legacy` or `service=service` for one whose `*_SYSTEM_OF_RECORD` is
 * fixed. A service not named holds the record (the service's value is written, as before).
 */
export function parseRecordRules(text: string): Map<string, string> {
  const rules = new Map<string, string>();
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [service, rule, ...rest] = part.split('=').map((p) => p.trim());
    if (!service || !rule || rest.length > 0) throw new Error(`CDC_WRITEBACK_RECORD_RULES: "${part}" is not service=rule`);
    rules.set(service, rule);
  }
  return rules;
}

/** as the services read it (contracts' recordHolderIn) */
export function holderIn(ruleSet: RuleSet, recordRule: string): RecordHolder {
  return recordHolderIn(ruleSet, recordRule).holder;
}

/** The emergency override file over the record rules of `recordRules` (load, start and stop it with the writer). */
export function watchRecordEmergency(file: string, recordRules: Map<string, string>, log: Logger): RecordEmergencyFile {
  const followed = [...new Set(recordRules.values())].filter((r) => r !== 'legacy' && r !== 'service');
  return openRecordEmergency({ file, log, component: 'cdc', recordRules: followed, install: () => undefined });
}

/**
 * The file in force as /api/cdc/status shows it (null when none is): the services among
 * `services` whose record it holds in legacy. Only logged before, so an operator could not tell
 * from the status why legacy edits stayed over the services' values.
 */
export function recordEmergencyStatus(emergency: Pick<RecordEmergencyFile, 'status' | 'pinned'>, recordRules: Map<string, string>, services: readonly string[]): WritebackEmergency | null {
  const { file, override } = emergency.status();
  if (!override) return null;
  const pinned = emergency.pinned();
  return {
    file,
    rules: override.rules === 'all' ? 'all' : [...override.rules],
    ...(override.reason !== undefined ? { reason: override.reason } : {}),
    ...(override.by !== undefined ? { by: override.by } : {}),
    since: override.since,
    services: services.flatMap((name) => {
      const rule = recordRules.get(name);
      return rule !== undefined && pinned.has(rule) ? [{ name, rule }] : [];
    }),
  };
}

/** A refused file keeps the override in force (or none): said, or the operator believes the glass broken. */
export function refusedEmergencyWarning(emergency: Pick<RecordEmergencyFile, 'status'>): string | undefined {
  const { file, override, lastRefused } = emergency.status();
  if (!lastRefused) return undefined;
  return `the emergency override file ${file} was refused at ${lastRefused.at} (${lastRefused.issues.join('; ')}): ${override ? 'the override read before stays in force' : 'no override is in force'}`;
}

export function recordHoldersFromStore(store: RuleStore, recordRules: Map<string, string>, emergency?: Pick<RecordEmergencyFile, 'serve' | 'pinned' | 'fresh'>): RecordHolders {
  let known: { version: number; ruleSet: RuleSet | undefined } | undefined;
  const look = async () => {
    const version = await store.currentVersion();
    if (known?.version === version) return;
    const current = await store.current();
    known = { version, ruleSet: current?.ruleSet };
    // the file folded over these rules: `all` leaves a retired record rule to the service
    if (current) emergency?.serve(current.ruleSet);
  };
  return {
    async of(service) {
      const rule = recordRules.get(service);
      if (rule === undefined || rule === 'service') return 'service';
      if (rule === 'legacy') return 'legacy';
      let unanswered: unknown;
      await look().catch((e: unknown) => (unanswered = e));
      // the file as it is now, not as the watcher last saw it: this writer paused when it appeared
      // would otherwise write the service's value over a legacy save made meanwhile
      await emergency?.fresh();
      if (emergency?.pinned().has(rule)) return 'legacy';
      if (unanswered !== undefined) throw unanswered;
      // no rules at all: nobody flipped anything, the legacy holds the record (as the services fail safe)
      if (!known?.ruleSet) return 'legacy';
      return holderIn(known.ruleSet, rule);
    },
  };
}
