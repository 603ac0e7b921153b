/**
 * Watches the emergency override file (emergency-override.ts) and keeps it folded into whatever
 * the rule source serves: a new version from the store, the last good copy, or the rule files.
 * The file is read within a second of a change (a watch of its folder, and a poll for what a
 * watch misses: a ConfigMap volume swaps a symbolic link, a network volume sends nothing). It
 * needs neither PostgreSQL nor Redis: it is the way back to legacy when they are the incident.
 * Each deployable says what the override does to its own rules (`fold`): the gateway to its HTTP
 * rules, the HL7 adapter to its HL7 rules; the watching, the log lines and the audit are shared.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditEntry } from '../control-plane/audit-log.js';
import type { Logger } from '../logger.js';
import type { RuleSet } from '../rules/model.js';
import { readEmergencyOverride, type EmergencyOverride } from './emergency-override.js';

const POLL_MS = 1_000;
/** a file read twice this far apart, the same both times, is not being written any more */
const SETTLE_MS = 100;
const AUDIT_RETRY_MS = 2_000;
/** a file rewritten while fresh() reads it: read again at most this many times, then the state read last stands */
const FRESH_TRIES = 3;

/** The rule set as a deployable serves it under the override, and what the override reached. */
export interface EmergencyFold {
  ruleSet: RuleSet;
  /** the rules the override holds in legacy (already in legacy or not) */
  pinned: ReadonlySet<string>;
  /** rules the file names that the rule set does not have at all (a warning: the rules may change) */
  unknown: string[];
}

export interface EmergencyStatus<S extends object = object> {
  file: string;
  /** in force: the override, since when this instance applies it, and the rules it holds in legacy */
  override?: EmergencyOverride & { since: string; pinned: string[]; unknown: string[] } & S;
  /** the last refused content, until the file is valid again or removed */
  lastRefused?: { at: string; issues: string[] };
}

export interface EmergencyFileOptions<F extends EmergencyFold, S extends object> {
  file: string;
  log: Logger;
  /** the deployable reading the file, in the audit entry (`gateway`, `hl7-adapter`) */
  component: string;
  /** the rule set as served under the override (none: as it is) */
  fold: (ruleSet: RuleSet, override: EmergencyOverride | undefined) => F;
  /** installs a folded rule set (router, metric); `pinned` answers "legacy (emergency)" */
  install: (folded: F) => void;
  /** what this deployable adds to the status, and to the log line of an apply (the names it does not reach) */
  describe: (folded: F) => { status: S; log: Record<string, unknown> };
  /** the audit log, when there is a store: apply and removal are recorded once it is reachable */
  audit?: { append(e: AuditEntry): Promise<void> } | undefined;
}

export class EmergencyOverrideFile<F extends EmergencyFold, S extends object = object> {
  private override: (EmergencyOverride & { since: string }) | undefined;
  private served: RuleSet | undefined;
  private folded: F | undefined;
  private seen: string | null | undefined = undefined;
  /** the stat (or absence) taken just before `seen` was read: fresh() reads again only when it moved */
  private seenStat: string | undefined;
  private stopped = false;
  private lastRefused: EmergencyStatus['lastRefused'];
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private readonly pendingAudit: AuditEntry[] = [];
  private auditTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(private readonly o: EmergencyFileOptions<F, S>) {}

  /** Reads the file once, before the first rules are applied: an instance restarted mid-incident starts pinned. */
  async load(): Promise<void> {
    await this.read(false);
  }

  start(): void {
    try {
      this.watcher = watch(path.dirname(this.o.file), () => this.schedule());
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // no folder yet (nothing to break glass with until one is made): the poll finds the file
    }
    this.poll = setInterval(() => void this.check(), POLL_MS);
    this.poll.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    if (this.poll) clearInterval(this.poll);
    if (this.debounce) clearTimeout(this.debounce);
    if (this.auditTimer) clearTimeout(this.auditTimer);
    await this.reading;
    await this.flushing;
  }

  /**
   * Brings the override up to the file as it is now, for a decision that depends on it (who holds
   * a record): a process paused when the file appeared (SIGSTOP, a VM stall, a long GC) would act
   * on its old state until the watch or poll ran, and a write-back decided then overwrote a legacy
   * save the file gave the legacy. A stat when nothing changed; else the watcher's own read (the
   * same settle, parser and refusals), so the answer is the one its next tick would give.
   */
  async fresh(): Promise<void> {
    for (let i = 0; i < FRESH_TRIES && !this.stopped; i++) {
      if ((await statKey(this.o.file)) === this.seenStat) return;
      await this.check();
    }
  }

  /** A rule set from the source: served with the override on top. */
  serve(ruleSet: RuleSet): void {
    this.served = ruleSet;
    this.installFolded();
  }

  /** Would the override keep this rule of `ruleSet` in legacy? (a flip's answer warns) */
  pins(ruleSet: RuleSet, ruleId: string): boolean {
    return this.override !== undefined && this.o.fold(ruleSet, this.override).pinned.has(ruleId);
  }

  /** The rules held in legacy now (none without an override). */
  pinned(): ReadonlySet<string> {
    return this.override && this.folded ? this.folded.pinned : new Set();
  }

  status(): EmergencyStatus<S> {
    const o = this.override;
    const f = this.folded;
    return {
      file: this.o.file,
      ...(o && f ? { override: { ...o, pinned: [...f.pinned], unknown: f.unknown, ...this.o.describe(f).status } } : {}),
      ...(this.lastRefused ? { lastRefused: this.lastRefused } : {}),
    };
  }

  private schedule(): void {
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.check(), 50);
    this.debounce.unref();
  }

  private check(): Promise<void> {
    this.reading ??= this.read(true).finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async read(settle: boolean): Promise<void> {
    // taken before the text: a change between the two leaves a stat fresh() sees as moved
    const before = await statKey(this.o.file);
    const text = await this.text();
    if (text === undefined || text === this.seen) {
      this.seenStat = before;
      return;
    }
    if (settle) {
      await sleep(SETTLE_MS);
      const again = await this.text();
      if (again !== text) return; // still being written: the next event or poll reads it
    }
    this.seen = text;
    this.seenStat = before;
    if (text === null) return this.change(undefined);
    const read = readEmergencyOverride(text, this.o.file);
    if (!read.ok) {
      this.lastRefused = { at: new Date().toISOString(), issues: read.issues };
      this.o.log.error({ file: this.o.file, issues: read.issues }, `emergency override file refused; ${this.override ? 'the override in force stays' : 'no override in force'}`);
      return;
    }
    this.change({ ...read.override, since: new Date().toISOString() });
  }

  /** the file's text; null when there is none */
  private async text(): Promise<string | null | undefined> {
    try {
      return await readFile(this.o.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      // unreadable (permissions, a dangling link): nothing is known, so nothing changes
      this.o.log.error({ file: this.o.file, err: (e as Error).message }, 'cannot read the emergency override file; nothing changed');
      return this.seen;
    }
  }

  private change(next: (EmergencyOverride & { since: string }) | undefined): void {
    const previous = this.override;
    this.lastRefused = undefined;
    if (!previous && !next) return;
    this.override = next;
    this.installFolded();
    const f = this.folded;
    const where = { file: this.o.file };
    // no rules served yet (the file read at start, before the first rules): what the file names
    if (next) {
      this.o.log.warn(
        { ...where, rules: f ? [...f.pinned] : next.rules, reason: next.reason, by: next.by, ...(f?.unknown.length ? { unknownRules: f.unknown } : {}), ...(f ? this.o.describe(f).log : {}) },
        'EMERGENCY OVERRIDE applied: these rules go to legacy whatever the rule store serves, until the file is removed',
      );
    } else {
      this.o.log.warn(where, 'emergency override removed: the rules serve as the rule store says');
    }
    this.recordAudit(next ?? previous!, next ? 'applied' : 'removed');
  }

  private installFolded(): void {
    if (!this.served) return;
    this.folded = this.o.fold(this.served, this.override);
    const f = this.folded;
    if (this.override && f.unknown.length > 0) this.o.log.warn({ file: this.o.file, unknownRules: f.unknown }, 'the emergency override names rules the served rules do not have');
    this.o.install(f);
  }

  private recordAudit(o: EmergencyOverride, event: 'applied' | 'removed'): void {
    if (!this.o.audit) return;
    this.pendingAudit.push({
      actor: `emergency-file:${o.by ?? 'unknown'}`,
      auth: 'file',
      action: 'rules.emergency',
      target: o.rules === 'all' ? 'all' : o.rules.join(','),
      reason: o.reason,
      outcome: 'ok',
      status: 200,
      detail: { event, at: new Date().toISOString(), instance: hostname(), component: this.o.component, file: this.o.file, rules: o.rules },
    });
    this.flushAudit();
  }

  /** in order, each once; what the store cannot take now waits for it */
  private flushAudit(): void {
    if (this.stopped || this.flushing || this.pendingAudit.length === 0) return;
    this.flushing = (async () => {
      while (this.pendingAudit.length > 0) {
        await this.o.audit!.append(this.pendingAudit[0]!);
        this.pendingAudit.shift();
      }
    })()
      .catch(() => {
        this.auditTimer = setTimeout(() => this.flushAudit(), AUDIT_RETRY_MS);
        this.auditTimer.unref();
      })
      .finally(() => (this.flushing = undefined));
  }
}

/** what identifies the file's content without reading it: a ConfigMap's swapped link gives another inode */
async function statKey(file: string): Promise<string> {
  try {
    const s = await stat(file, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch (e) {
    return `no file (${(e as NodeJS.ErrnoException).code ?? 'error'})`;
  }
}
