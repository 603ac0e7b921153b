/**
 * Schema migrations, run by node-pg-migrate from the SQL files of one folder under
 * migrations/. Each database (and each component sharing one) keeps its own history table.
 */
import { runner } from 'node-pg-migrate';
import type { Logger } from '../logger.js';
import { ensureDatabase } from './ensure-database.js';

export interface MigrationRun {
  databaseUrl: string;
  dir: string;
  /** the history table, named after the component (legacy_his_pgmigrations, gateway_pgmigrations) */
  table: string;
  log?: Logger;
  /** create the database first when it does not exist (default true) */
  createDatabase?: boolean;
}

/** Applies the pending migrations; answers the names of those it ran. */
export async function runMigrations(run: MigrationRun): Promise<string[]> {
  const log = run.log;
  if (run.createDatabase !== false && (await ensureDatabase(run.databaseUrl))) log?.info({ table: run.table }, 'created the database');
  const applied = await runner({
    databaseUrl: run.databaseUrl,
    dir: run.dir,
    migrationsTable: run.table,
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
  if (names.length > 0) log?.info({ applied: names, table: run.table }, 'database migrated');
  return names;
}

/** A database URL with another database name (components share a server, not a database). */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
