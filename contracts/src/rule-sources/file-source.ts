/**
 * Keeps the gateway's rules in step with the rule folder. Changes are picked up by file
 * watching and, as a safety net (network volumes, Kubernetes ConfigMap symlink swaps), by a
 * periodic re-read. An invalid change is refused with file, line and reason, and the rules
 * already serving stay in place. So is one that leaves no HTTP rules where there were some: a
 * deleted or truncated file (a bad ConfigMap, `: > 10-http.yaml`) is valid YAML, and would
 * answer every request 404.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Logger } from '../logger.js';
import { displayName, listRuleFiles, loadRuleDir } from '../rules/load-files.js';
import type { RuleSet } from '../rules/model.js';
import { formatIssue, type RuleIssue, type ValidationOptions } from '../rules/validate.js';
import { RuleLoadError, type RuleSource, type RuleSourceStatus } from './rule-source.js';

interface FilesStatus {
  loadedAt: Date | undefined;
  files: string[];
  /** the files that held the HTTP rules serving now, and how many */
  httpFiles: string[];
  httpRules: number;
  /** the last refused change, until a valid one replaces it */
  lastError: { at: Date; issues: string[] } | undefined;
}

export class FileRuleSource implements RuleSource {
  private readonly state: FilesStatus = { loadedAt: undefined, files: [], httpFiles: [], httpRules: 0, lastError: undefined };
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
  ) {}

  status(): RuleSourceStatus {
    const s = this.state;
    return {
      kind: 'files',
      state: s.loadedAt === undefined ? 'starting' : s.lastError ? 'degraded' : 'ready',
      ...(s.loadedAt ? { loadedAt: s.loadedAt.toISOString() } : {}),
      detail: {
        files: s.files,
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
    this.fingerprint = fingerprint;
    this.applied(result);
  }

  private applied(result: { files: string[]; httpFiles: string[]; ruleSet: RuleSet }): void {
    this.state.loadedAt = new Date();
    this.state.files = result.files;
    this.state.httpFiles = result.httpFiles;
    this.state.httpRules = result.ruleSet.http.length;
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
    let fingerprint: string;
    try {
      fingerprint = await this.readFingerprint();
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'cannot read the rule folder; keeping the rules in place');
      return;
    }
    if (fingerprint === this.fingerprint) return;
    const result = await loadRuleDir(this.dir, this.validation);
    if (!result.ok) return this.refuse(fingerprint, result.errors);
    if (result.ruleSet.http.length === 0 && this.state.httpRules > 0) return this.refuse(fingerprint, this.httpRulesGone(result.files));
    for (const w of result.warnings) this.log.warn({ rules: formatIssue(w) }, 'rule warning');
    this.fingerprint = fingerprint;
    this.applied(result);
    this.log.info({ rules: result.ruleSet.http.length, files: result.files.length }, 'rules reloaded');
  }

  private refuse(fingerprint: string, errors: RuleIssue[]): void {
    const issues = errors.map(formatIssue);
    // remember what was refused so the same broken files are not reported every poll
    this.fingerprint = fingerprint;
    this.state.lastError = { at: new Date(), issues };
    this.log.error({ issues }, 'rule change refused; the previous rules keep serving');
    this.onRefused(errors);
  }

  /** Where the HTTP rules went: each file that held them, deleted or emptied. */
  private httpRulesGone(files: string[]): RuleIssue[] {
    const n = this.state.httpRules;
    const why = `the change leaves no HTTP rules (${n} serve now): every request would get 404`;
    return this.state.httpFiles.map((file) => ({ file: displayName(file), pointer: '', reason: `${files.includes(file) ? 'holds no HTTP rules any more' : 'deleted'}: ${why}` }));
  }

  private async readFingerprint(): Promise<string> {
    const hash = createHash('sha256');
    for (const file of await listRuleFiles(this.dir)) {
      hash.update(file).update('\0').update(await readFile(file)).update('\0');
    }
    return hash.digest('hex');
  }
}
