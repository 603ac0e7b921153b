/**
 * Opens the rule store: a connection pool, the schema (migrations/gateway), the first version
 * from the rule files when the store is empty, and a first admin token when there is none.
 * A store that is down at this point is not fatal: the gateway can serve its last good copy.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { runMigrations } from '../postgres/migrate.js';
import { loadRuleDir } from '../rules/load-files.js';
import { formatIssue } from '../rules/validate.js';
import { AuditLog } from './audit-log.js';
import { firstAdminToken } from './first-admin-token.js';
import { RuleStore } from './rule-store.js';
import { TokenStore } from './token-store.js';

export const MIGRATIONS_TABLE = 'gateway_pgmigrations';
const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/gateway', import.meta.url));

export interface OpenStore {
  pool: pg.Pool;
  store: RuleStore;
  audit: AuditLog;
  tokens: TokenStore;
  reachable(): Promise<boolean>;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  url: string;
  rulesDir: string;
  stateDir: string;
  adminToken: string | undefined;
  migrationsDir?: string;
  log: Logger;
  /** make a first admin token when there is none (the gateway does; other readers of the store do not) */
  bootstrapToken?: boolean;
}

export async function openStore(o: OpenStoreOptions): Promise<OpenStore> {
  const pool = new pg.Pool({ connectionString: o.url, max: 6, connectionTimeoutMillis: 3_000, idleTimeoutMillis: 30_000 });
  // an idle connection dropping (database restart) must not take the gateway down
  pool.on('error', (err) => o.log.warn({ err: err.message }, 'rule store connection lost'));
  const store = new RuleStore(pool);
  const tokens = new TokenStore(pool);
  const audit = new AuditLog(pool);
  const opened: OpenStore = {
    pool,
    store,
    audit,
    tokens,
    reachable: () =>
      pool.query('SELECT 1').then(
        () => true,
        () => false,
      ),
    close: () => pool.end(),
  };
  try {
    await runMigrations({ databaseUrl: o.url, dir: o.migrationsDir ?? MIGRATIONS_DIR, table: MIGRATIONS_TABLE, log: o.log });
  } catch (e) {
    o.log.warn({ err: (e as Error).message }, 'rule store unavailable at start: continuing with the last good copy, if any');
    return opened;
  }
  await seedFromFiles(store, o);
  if (o.bootstrapToken !== false) await firstAdminToken({ tokens, audit, adminToken: o.adminToken, stateDir: o.stateDir, log: o.log });
  return opened;
}

async function seedFromFiles(store: RuleStore, o: OpenStoreOptions): Promise<void> {
  // the files are read only for an empty store: a rule folder broken or gone later (a bad
  // ConfigMap) must not stop a start whose rules the store holds
  if ((await store.currentVersion()) > 0) return;
  const files = await loadRuleDir(o.rulesDir);
  if (!files.ok) throw new Error(`cannot seed the rule store from ${o.rulesDir}:\n${files.errors.map((i) => '  ' + formatIssue(i)).join('\n')}`);
  const seeded = await store.seedIfEmpty(files.ruleSet, 'seed', `initial import from ${path.basename(o.rulesDir)}/`);
  if (seeded) o.log.info({ version: seeded.version, rules: files.ruleSet.http.length }, 'rule store seeded from the rule files');
}
