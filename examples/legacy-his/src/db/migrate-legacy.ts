/**
 * Schema migrations of the legacy database, run by node-pg-migrate from the SQL files in
 * migrations/legacy-his. The migrations table has a name of its own so that other components
 * migrating the same server (or, one day, the same database) keep separate histories.
 */
import { fileURLToPath } from 'node:url';
import { runMigrations, type Logger } from '@ficus/contracts';

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
export function migrateLegacy(databaseUrl: string, options: MigrateOptions = {}): Promise<string[]> {
  return runMigrations({
    databaseUrl,
    dir: options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR,
    table: MIGRATIONS_TABLE,
    log: options.log,
    createDatabase: options.createDatabase,
  });
}
