/**
 * Keeps the gateway's rules in step with the rule folder. Changes are picked up by file
 * watching and, as a safety net (network volumes, Kubernetes ConfigMap symlink swaps), by a
 * periodic re-read. A change is read once the files have stopped changing for a settle
 * period, so a file written in several steps is not applied half-written. An invalid change is
 * refused with file, line and reason, and the rules already serving stay in place. So is one
 * that drops routing the rules serving now have (routing-guard.ts): a deleted or truncated
 * file (a bad ConfigMap, `: > 10-http.yaml`) is valid YAML, and would answer every request 404
 * or refuse every HL7 message. Removing them on purpose takes a restart: the first load of a
 * folder compares with nothing.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from '../logger.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { displayName, listRuleFiles, loadRuleDir, type RuleDirPlaces } from '../rules/load-files.js';
import type { RuleSet } from '../rules/model.js';
import { tlsFiles } from '../rules/upstream-tls.js';
import { formatIssue, type RuleIssue, type ValidationOptions } from '../rules/validate.js';
import { RuleLoadError, type RuleSource, type RuleSourceStatus } from './rule-source.js';

interface FilesStatus {
  loadedAt: Date | undefined;
  /** the files of the rules serving now, and where their sections are (for refusals that name them) */
  places: RuleDirPlaces;
  /** the rules serving now */
  served: RuleSet | undefined;
  /** the last refused change, until a valid one replaces it */
  lastError: { at: Date; issues: string[] } | undefined;
}

/** How long the files must stay unchanged before a change is read, and how long to wait at most. */
export const RULE_FILES_SETTLE_MS = 300;
const SETTLE_GIVE_UP_FACTOR = 30;

export class FileRuleSource implements RuleSource {
  private readonly state: FilesStatus = { loadedAt: undefined, places: { files: [], httpFiles: [], hl7Files: [] }, served: undefined, lastError: undefined };
  private fingerprint = '';
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly pollMs: number,
    private readonly log: Logger,
    private readonly apply: (ruleSet: RuleSet) => void,
    private readonly onRefused: (issues: RuleIssue[]) => void = () => {},
    private readonly validation: ValidationOptions = {},
    private readonly settleMs = RULE_FILES_SETTLE_MS,
  ) {}

  status(): RuleSourceStatus {
    const s = this.state;
    return {
      kind: 'files',
      state: s.loadedAt === undefined ? 'starting' : s.lastError ? 'degraded' : 'ready',
      ...(s.loadedAt ? { loadedAt: s.loadedAt.toISOString() } : {}),
      detail: {
        files: s.places.files,
        settleMs: this.settleMs,
        ...(s.lastError ? { lastRefusedChange: { at: s.lastError.at.toISOString(), issues: s.lastError.issues } } : {}),
      },
    };
  }

  /** First load; throws RuleLoadError when the files are invalid (there is nothing to keep serving). */
  async load(): Promise<void> {
    const fingerprint = await this.readFingerprint();
    const result = await loadRuleDir(this.dir, this.validation);
    for (const w of result.warnings) this.log.warn({ rules: formatIssue(w) }, 'rule warning');
    if (!result.ok) throw new RuleLoadError(result.errors);
    this.fingerprint = await this.withTlsFiles(fingerprint, result.ruleSet);
    this.applied(result);
  }

  private applied(result: RuleDirPlaces & { ruleSet: RuleSet }): void {
    const { ruleSet, files, httpFiles, hl7Files, catchAllAt } = result;
    this.state.loadedAt = new Date();
    this.state.places = { files, httpFiles, hl7Files, ...(catchAllAt ? { catchAllAt } : {}) };
    this.state.served = ruleSet;
    this.state.lastError = undefined;
    this.apply(result.ruleSet);
  }

  start(): void {
    try {
      this.watcher = watch(this.dir, () => this.schedule());
      this.watcher.on('error', (e) => this.log.warn({ err: e.message }, 'rule folder watch failed; polling only'));
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'cannot watch the rule folder; polling only');
    }
    this.timer = setInterval(() => void this.reload(), this.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
  }

  private schedule(): void {
    // editors write a file in several steps; wait for the burst to end
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reload(), 150);
    this.debounce.unref();
  }

  /** Re-reads the folder; applies the rules if they changed and are valid. */
  reload(): Promise<void> {
    this.reloading ??= this.doReload().finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  private async doReload(): Promise<void> {
    let fingerprint: string | undefined;
    try {
      fingerprint = await this.settledFingerprint();
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'cannot read the rule folder; keeping the rules in place');
      return;
    }
    if (fingerprint === undefined || fingerprint === this.fingerprint) return;
    const served = this.state.served;
    const result = await loadRuleDir(this.dir, { ...this.validation, ...(served ? { servingNow: served } : {}) });
    if (!result.ok) return this.refuse(fingerprint, result.errors.flatMap((e) => this.placed(e, result.files)));
    for (const w of result.warnings) this.log.warn({ rules: formatIssue(w) }, 'rule warning');
    this.fingerprint = await this.withTlsFiles(fingerprint, result.ruleSet);
    this.applied(result);
    this.log.info({ rules: result.ruleSet.http.length, files: result.files.length }, 'rules reloaded');
  }

  /**
   * The folder's fingerprint once it has stayed the same for the settle period (a writer that
   * pauses mid-file is not read half-way); undefined while it keeps changing: the next event or
   * poll tries again, and the rules serving stay.
   */
  private async settledFingerprint(): Promise<string | undefined> {
    let seen = await this.readFingerprint();
    if (seen === this.fingerprint) return seen;
    const giveUp = Date.now() + this.settleMs * SETTLE_GIVE_UP_FACTOR;
    for (;;) {
      await sleep(this.settleMs);
      const now = await this.readFingerprint();
      if (now === seen) return now;
      if (Date.now() > giveUp) {
        this.log.warn({ settleMs: this.settleMs }, 'the rule files are still changing; not reading them yet');
        return undefined;
      }
      seen = now;
    }
  }

  /** A lost section, named by the files that held it (deleted or emptied); a removed catch-all, by where it was. */
  private placed(e: RuleIssue, files: string[]): RuleIssue[] {
    const places = this.state.places;
    if (e.loss === 'http-rules' || e.loss === 'hl7-rules') {
      const [held, what] = e.loss === 'http-rules' ? [places.httpFiles, 'HTTP'] : [places.hl7Files, 'HL7'];
      return held.map((file) => ({ file: displayName(file), pointer: '', loss: e.loss, reason: `${files.includes(file) ? `holds no ${what} rules any more` : 'deleted'}: ${e.reason}` }));
    }
    if (e.loss === 'catch-all' && !e.line && places.catchAllAt) {
      // the catch-all went with its file (other files still hold HTTP rules): say the file is gone, not only the rule
      const gone = !files.some((f) => displayName(f) === places.catchAllAt!.file);
      return [{ ...e, ...places.catchAllAt, ...(gone ? { reason: `the file was deleted: ${e.reason}` } : {}) }];
    }
    return [e];
  }

  private refuse(fingerprint: string, errors: RuleIssue[]): void {
    const issues = errors.map(formatIssue);
    // remember what was refused so the same broken files are not reported every poll
    this.fingerprint = fingerprint;
    this.state.lastError = { at: new Date(), issues };
    this.log.error({ issues }, 'rule change refused; the previous rules keep serving');
    this.onRefused(errors);
  }

  private async readFingerprint(): Promise<string> {
    return this.withTlsFiles(await this.ruleFilesFingerprint(), this.state.served);
  }

  /**
   * The certificate and key files the rules name (upstreams' tls) count as rule files: a rotated
   * certificate (a Secret's files replaced) reloads the rules, which reads it again.
   */
  private async withTlsFiles(ruleFiles: string, ruleSet: RuleSet | undefined): Promise<string> {
    const files = [...new Set(Object.values(ruleSet?.upstreams ?? {}).flatMap((u) => tlsFiles(u.tls)))].sort();
    if (files.length === 0) return ruleFiles.split(':')[0]!;
    const hash = createHash('sha256');
    for (const file of files) {
      hash.update(file).update('\0');
      try {
        hash.update(await readFile(file));
      } catch (e) {
        hash.update(`unreadable ${(e as NodeJS.ErrnoException).code ?? ''}`);
      }
      hash.update('\0');
    }
    return `${ruleFiles.split(':')[0]!}:${hash.digest('hex')}`;
  }

  private async ruleFilesFingerprint(): Promise<string> {
    const hash = createHash('sha256');
    for (const file of await listRuleFiles(this.dir)) {
      // size and mtime too: a writer that rewrites the same bytes is still writing
      const { size, mtimeMs } = await stat(file);
      hash.update(file).update('\0').update(`${size}:${mtimeMs}`).update('\0').update(await readFile(file)).update('\0');
    }
    return hash.digest('hex');
  }
}
