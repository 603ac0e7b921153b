/**
 * Rules from the rule store. A new version is applied within a second of its commit: the
 * admin API announces it on Redis, and a periodic check of the store's version catches what
 * a lost message or a Redis outage would miss. Every applied version is also written to a
 * file, so that a gateway can start, and serve, while the store is down. An instance that
 * cannot reach the store keeps its last good rules, says so, and catches up when it can.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from '../logger.js';
import type { RuleSet } from '../rules/model.js';
import { validateRuleDocuments } from '../rules/validate.js';
import type { RuleStore, RuleVersion } from '../control-plane/rule-store.js';
import { RuleLoadError, type RuleSource, type RuleSourceStatus } from './rule-source.js';

export const RULES_CHANNEL = 'ficus:rules';

export interface AppliedRules {
  version: number;
  ruleSet: RuleSet;
  /** when the version was committed (for the commit-to-apply lag) */
  committedAt: string;
}

interface CachedRules extends AppliedRules {
  savedAt: string;
}

export interface StoreSourceOptions {
  store: RuleStore;
  redisUrl: string | undefined;
  cacheFile: string;
  checkMs: number;
  log: Logger;
  apply: (rules: AppliedRules, from: 'store' | 'cache') => void;
  storeState?: (up: boolean) => void;
}

export class StoreUnavailableError extends Error {}

export class StoreRuleSource implements RuleSource {
  private applied: AppliedRules | undefined;
  private appliedFrom: 'store' | 'cache' | undefined;
  private loadedAt: Date | undefined;
  private storeUp = false;
  private lastError: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private redis: Redis | undefined;
  private checking: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: StoreSourceOptions) {}

  status(): RuleSourceStatus {
    const degraded = !this.storeUp || this.appliedFrom === 'cache';
    return {
      kind: 'store',
      ...(this.applied ? { version: this.applied.version } : {}),
      ...(this.loadedAt ? { loadedAt: this.loadedAt.toISOString() } : {}),
      state: this.applied === undefined ? 'starting' : degraded ? 'degraded' : 'ready',
      detail: {
        store: this.storeUp ? 'reachable' : 'unreachable',
        servingFrom: this.appliedFrom,
        ...(this.lastError ? { lastError: this.lastError } : {}),
        changeNotifications: this.redis ? this.redis.status : 'off (no REDIS_URL): periodic check only',
      },
    };
  }

  async load(): Promise<void> {
    try {
      const current = await this.o.store.current();
      this.markStore(true);
      if (!current) throw new StoreUnavailableError('the rule store holds no version yet');
      this.use(current);
    } catch (e) {
      const invalid = e instanceof RuleLoadError;
      if (!invalid) this.markStore(false, e as Error);
      const cached = this.readCache();
      if (!cached) {
        if (invalid) throw e;
        throw new StoreUnavailableError(`the rule store is unreachable (${(e as Error).message}) and there is no last good copy at ${this.o.cacheFile}`);
      }
      this.o.log.warn({ version: cached.version, savedAt: cached.savedAt, cacheFile: this.o.cacheFile }, `${invalid ? 'stored rules invalid' : 'rule store unreachable'}: serving the last good copy from disk`);
      this.install(cached, 'cache');
    }
  }

  start(): void {
    this.timer = setInterval(() => void this.check(), this.o.checkMs);
    this.timer.unref();
    if (this.o.redisUrl) {
      const redis = new Redis(this.o.redisUrl, {
        lazyConnect: false,
        maxRetriesPerRequest: null,
        retryStrategy: (times) => Math.min(times * 200, 2_000),
      });
      let warned = false;
      redis.on('error', (err: Error) => {
        if (!warned) this.o.log.warn({ err: err.message }, 'rule change notifications (Redis) unavailable; checking the store periodically');
        warned = true;
      });
      redis.on('ready', () => {
        warned = false;
        void this.check(); // anything missed while disconnected
      });
      redis.on('message', () => void this.check());
      void redis.subscribe(RULES_CHANNEL).catch(() => undefined);
      this.redis = redis;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.redis?.disconnect();
    await this.checking;
  }

  /** Compares the store's version with the one serving, and applies a newer one. */
  check(): Promise<void> {
    this.checking ??= this.doCheck().finally(() => (this.checking = undefined));
    return this.checking;
  }

  private async doCheck(): Promise<void> {
    if (this.stopped) return;
    try {
      const version = await this.o.store.currentVersion();
      if (this.applied && version === this.applied.version && this.appliedFrom === 'store') {
        this.markStore(true);
        return;
      }
      const current = await this.o.store.current();
      this.markStore(true);
      if (current && (!this.applied || current.version !== this.applied.version || this.appliedFrom !== 'store')) this.use(current);
    } catch (e) {
      if (e instanceof RuleLoadError) {
        this.lastError = e.message;
        this.o.log.error({ issues: e.issues.length }, `stored rule version refused; the previous rules keep serving: ${e.message}`);
        return;
      }
      this.markStore(false, e as Error);
    }
  }

  private use(v: RuleVersion): void {
    const checked = validateRuleDocuments([{ name: `rule set version ${v.version}`, data: v.ruleSet }], { stored: true });
    if (!checked.ok) throw new RuleLoadError(checked.errors);
    if (checked.warnings.length > 0) {
      this.o.log.warn({ version: v.version, warnings: checked.warnings.slice(0, 5).map((w) => `${w.ruleId ?? w.pointer}: ${w.reason}`) }, 'the stored rule version serves with warnings');
    }
    const rules: AppliedRules = { version: v.version, ruleSet: checked.ruleSet, committedAt: v.createdAt };
    const previous = this.applied?.version;
    this.install(rules, 'store');
    this.lastError = undefined;
    this.writeCache(rules);
    if (previous !== undefined) this.o.log.info({ from: previous, to: v.version, author: v.author }, 'rules updated from the store');
  }

  private install(rules: AppliedRules, from: 'store' | 'cache'): void {
    this.o.apply(rules, from);
    this.applied = rules;
    this.appliedFrom = from;
    this.loadedAt = new Date();
  }

  private markStore(up: boolean, err?: Error): void {
    if (up !== this.storeUp) {
      if (up) this.o.log.info('rule store reachable');
      else this.o.log.warn({ err: err?.message }, 'rule store unreachable: serving the last good rules');
    }
    this.storeUp = up;
    if (!up) this.lastError = `rule store unreachable: ${err?.message ?? 'unknown error'}`;
    this.o.storeState?.(up);
  }

  private readCache(): CachedRules | undefined {
    try {
      const cached = JSON.parse(readFileSync(this.o.cacheFile, 'utf8')) as CachedRules;
      const checked = validateRuleDocuments([{ name: this.o.cacheFile, data: cached.ruleSet }], { stored: true });
      if (!checked.ok) {
        this.o.log.error({ cacheFile: this.o.cacheFile }, 'the last good copy on disk is invalid; not using it');
        return undefined;
      }
      return { ...cached, ruleSet: checked.ruleSet };
    } catch {
      return undefined;
    }
  }

  private writeCache(rules: AppliedRules): void {
    try {
      mkdirSync(path.dirname(this.o.cacheFile), { recursive: true });
      const tmp = `${this.o.cacheFile}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ ...rules, savedAt: new Date().toISOString() } satisfies CachedRules));
      renameSync(tmp, this.o.cacheFile); // atomic: a crash never leaves half a file
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message, cacheFile: this.o.cacheFile }, 'cannot write the last good copy of the rules');
    }
  }
}
