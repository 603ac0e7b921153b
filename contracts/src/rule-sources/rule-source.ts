/**
 * Where the gateway's rules come from: the rule store (PostgreSQL, changes heard over Redis)
 * or, without a store, the rule files themselves. Either way the running rules change only
 * to a valid rule set, and the source says how fresh they are.
 */
import { formatIssue, type RuleIssue } from '../rules/validate.js';

export interface RuleSourceStatus {
  kind: 'store' | 'files';
  /** the rule set version serving now (store only) */
  version?: number;
  loadedAt?: string;
  /** ready: serving what the source holds; degraded: serving an older or cached copy */
  state: 'starting' | 'ready' | 'degraded';
  detail: Record<string, unknown>;
}

export interface RuleSource {
  /** First load; throws when there is nothing valid to serve. */
  load(): Promise<void>;
  start(): void;
  stop(): Promise<void>;
  status(): RuleSourceStatus;
}

/** The rules at hand are invalid, and there is nothing valid to keep serving. */
export class RuleLoadError extends Error {
  constructor(readonly issues: RuleIssue[]) {
    super(`the routing rules are invalid:\n${issues.map((i) => '  ' + formatIssue(i)).join('\n')}`);
  }
}
