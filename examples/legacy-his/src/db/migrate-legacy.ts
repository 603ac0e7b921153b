/**
 * Schema migrations of the legacy database, run by node-pg-migrate from the SQL files in
 * migrations/legacy-his. The migrations table has a name of its own so that other components
 * migrating the same server (or, one day, the same database) keep separate histories.
 */
import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type { Logger } from '@ficus/contracts';
import { ensureDatabase } from './ensure-database.js';

export const MIGRATIONS_TABLE = 'legacy_his_pgmigrations';

/** repo-root/migrations/legacy-his: src/db/ (under tsx) and dist/db/ (built) sit at the same depth */
export const DEFAULT_MIGRATIONS_DIR = fileURLToPath(new URL('../../../../migrations/legacy-his', import.meta.url));

export interface MigrateOptions {
  migrationsDir?: string;
  log?: Logger;
  /** create the database first when it does not exist (default true) */
  createDatabase?: boolean;
}

/** Applies the pending migrations; answers the names of those it ran. */
export async function migrateLegacy(databaseUrl: string, options: MigrateOptions = {}): Promise<string[]> {
  const log = options.log;
  if (options.createDatabase !== false && (await ensureDatabase(databaseUrl))) log?.info('created the legacy database');
  const applied = await runner({
    databaseUrl,
    dir: options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR,
    migrationsTable: MIGRATIONS_TABLE,
    direction: 'up',
    checkOrder: true,
    singleTransaction: true,
    // instances starting together queue up instead of failing
    advisoryLockMode: 'wait',
    logger: {
      info: (msg) => log?.debug({ migrations: msg.trim() }, 'node-pg-migrate'),
      warn: (msg) => log?.warn({ migrations: msg.trim() }, 'node-pg-migrate'),
      error: (msg) => log?.error({ migrations: msg.trim() }, 'node-pg-migrate'),
    },
  });
  const names = applied.map((m) => m.name);
  if (names.length > 0) log?.info({ applied: names }, 'legacy database migrated');
  return names;
}
