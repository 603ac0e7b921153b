/**
 * Who holds the committed truth of a service's entities, now. Fixed (`legacy` or `service`,
 * from the environment) or following the rules (`rules`): the service is the system of record
 * while the rule that sends its writes to it (`patients-write`, or an HL7 rule) is in mode
 * `new` or `retired`, so that an admin's flip, and its rollback, take effect here within a
 * second, with no restart, through the same rule store and change notifications as the gateway's.
 *
 * `retired` is the step after `new` (the gateway never calls the legacy for that rule), so the
 * service must hold the record there too: otherwise nobody accepted writes once the rule was
 * retired. It only changes where the gateway routes, not the legacy database, which legacy
 * screens, reports, rules still in `legacy` and a rollback go on reading: write-back goes on.
 *
 * Failing safe: while the rules are not known (the store unreachable and no last good copy),
 * the legacy stays the system of record, so a write sent here is refused (PAT-503) rather than
 * kept where the legacy would never see it.
 *
 * Break glass: while the emergency override file (the gateway's and the HL7 adapter's,
 * FICUS_EMERGENCY_FILE) names the record rule, or says `all`, the legacy holds the record
 * whatever the rules say: the gateway sends the writes there, so legacy edits must win here
 * too. That needs neither the rule store nor Redis, and answers even while the rules are unknown.
 */
import path from 'node:path';
import pg from 'pg';
import { openRecordEmergency, recordHolderIn, RuleStore, StoreRuleSource, type Logger, type RuleSet } from '@ficus/contracts';
import type { SystemOfRecord } from './service-env.js';

export type SystemOfRecordSetting = SystemOfRecord | 'rules';

export interface SystemOfRecordSource {
  current(): SystemOfRecord;
  /**
   * For an HL7 job that does not say whether the legacy got its message too (queued by an
   * adapter that predates `legacyToo`, hl7/hl7-regime.ts): whether what it changes goes to the
   * outbox (and so back to the legacy). Whenever the legacy does not get this service's
   * messages itself (no HL7 rule routes them to both, mode `dual`, or the legacy would hold them
   * twice), whoever holds the record for the HTTP writes: else nobody gives them to the legacy.
   */
  hl7WriteBack(): boolean;
  /** Looks again now, at the rules and the emergency file (a write that arrives just after a flip must not wait for the notification). */
  refresh(): Promise<SystemOfRecord>;
  /**
   * Who holds the record with the emergency file looked at now (a stat; read when it changed),
   * the rules as last heard: for a decision (a write accepted, a CDC change merged). A service
   * paused when the file appeared would otherwise act on the watcher's old state after it resumes.
   */
  fresh(): Promise<SystemOfRecord>;
  describe(): Record<string, unknown>;
  /** whether the emergency override file holds the record in the legacy now (ficus_service_system_of_record_emergency) */
  heldByEmergency(): boolean;
  /** the emergency override file while it holds the record (said in a refused write's answer) */
  emergencyFile(): string | undefined;
  /**
   * Undefined once the service knows who holds the record (fixed, or rules read from the store
   * or its last good copy); else why not. Until then it is not ready (/readyz 503): current()
   * answers `legacy` only as the safe default, which after a cutover would refuse every write.
   */
  unknownBecause(): string | undefined;
  /** called with the new value whenever it changes */
  onChange(listener: (now: SystemOfRecord) => void): void;
  close(): Promise<void>;
}

export function fixedSystemOfRecord(value: SystemOfRecord): SystemOfRecordSource {
  return {
    current: () => value,
    hl7WriteBack: () => value === 'service',
    refresh: async () => value,
    fresh: async () => value,
    describe: () => ({ systemOfRecord: value, from: 'environment' }),
    heldByEmergency: () => false,
    emergencyFile: () => undefined,
    unknownBecause: () => undefined,
    onChange: () => undefined,
    close: async () => undefined,
  };
}

/** What a rule set says: the record rule's mode, and whether the legacy also gets this service's HL7 messages. */
export function readRules(ruleSet: RuleSet, service: string, recordRule: string): { systemOfRecord: SystemOfRecord; legacyGetsHl7: boolean; ruleMode: string | null } {
  const { holder, mode } = recordHolderIn(ruleSet, recordRule);
  const legacyGetsHl7 = (ruleSet.hl7 ?? []).some((r) => r.target === service && r.mode === 'dual');
  return { systemOfRecord: holder, legacyGetsHl7, ruleMode: mode };
}

export interface RuleFollowingOptions {
  service: string;
  /** the rule whose mode `new` or `retired` makes this service the system of record */
  recordRule: string;
  storeUrl: string;
  redisUrl: string | undefined;
  stateDir: string;
  /** the emergency override file (FICUS_EMERGENCY_FILE, default in stateDir) */
  emergencyFile: string;
  checkMs: number;
  log: Logger;
}

export async function followRules(o: RuleFollowingOptions): Promise<SystemOfRecordSource> {
  const pool = new pg.Pool({ connectionString: o.storeUrl, max: 2, connectionTimeoutMillis: 3_000, idleTimeoutMillis: 30_000 });
  pool.on('error', (err) => o.log.warn({ err: err.message }, 'rule store connection lost'));
  let state: ReturnType<typeof readRules> = { systemOfRecord: 'legacy', legacyGetsHl7: true, ruleMode: null };
  let version: number | undefined;
  let held = false;
  let now: SystemOfRecord = 'legacy';
  const listeners: ((now: SystemOfRecord) => void)[] = [];
  const settle = () => {
    const next = held ? 'legacy' : state.systemOfRecord;
    if (next === now) return;
    now = next;
    const what = { systemOfRecord: next, rule: o.recordRule, mode: state.ruleMode, version };
    if (held) o.log.warn({ ...what, file: o.emergencyFile }, 'system of record: the legacy, by the emergency override file, whatever the rules say');
    else o.log.info(what, 'system of record changed with the rules');
    for (const l of listeners) l(next);
  };
  const emergency = openRecordEmergency({
    file: o.emergencyFile,
    log: o.log,
    component: o.service,
    recordRules: [o.recordRule],
    install: (pinned) => {
      held = pinned.size > 0;
      settle();
    },
  });
  // read before the rules: a service restarted mid-incident starts with the legacy holding the record
  await emergency.load();
  const source = new StoreRuleSource({
    store: new RuleStore(pool),
    redisUrl: o.redisUrl,
    cacheFile: path.join(o.stateDir, `${o.service}-last-good-rules.json`),
    checkMs: o.checkMs,
    log: o.log,
    apply: (applied) => {
      const next = readRules(applied.ruleSet, o.service, o.recordRule);
      if (next.ruleMode === null) o.log.warn({ rule: o.recordRule, version: applied.version }, 'the record rule is not in the rules: the legacy stays the system of record');
      state = next;
      version = applied.version;
      // folds the file over the new rules (a retired rule is not held by `all`) and settles
      emergency.serve(applied.ruleSet);
    },
  });
  try {
    await source.load();
  } catch (e) {
    o.log.warn({ err: (e as Error).message }, 'rules unknown: the legacy is the system of record until the rule store answers');
  }
  source.start();
  emergency.start();
  const emergencyStatus = () => {
    const s = emergency.status();
    return s.override || s.lastRefused ? { emergency: s } : {};
  };
  return {
    current: () => now,
    // while the rules are unknown legacyGetsHl7 stays true: no write-back rather than a double one
    hl7WriteBack: () => !state.legacyGetsHl7,
    async refresh() {
      await Promise.all([source.check(), emergency.fresh()]);
      return now;
    },
    async fresh() {
      await emergency.fresh();
      return now;
    },
    describe: () => ({
      systemOfRecord: held ? 'legacy (emergency file)' : now,
      from: held ? 'emergency file' : 'rules',
      rule: o.recordRule,
      ruleMode: state.ruleMode,
      rulesVersion: version ?? null,
      rules: source.status().state,
      ...emergencyStatus(),
    }),
    heldByEmergency: () => held,
    emergencyFile: () => (held ? o.emergencyFile : undefined),
    // the file answers for the legacy whatever the rules would say
    unknownBecause: () =>
      version === undefined && !held
        ? `the rules are unknown (the rule store has not answered and ${path.join(o.stateDir, `${o.service}-last-good-rules.json`)} holds no last good copy): whether ${o.service} or the legacy is the system of record is not known yet`
        : undefined,
    onChange: (l) => void listeners.push(l),
    async close() {
      await emergency.stop();
      await source.stop();
      await pool.end();
    },
  };
}
