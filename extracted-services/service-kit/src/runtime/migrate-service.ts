/**
 * A service's database schema: created when missing, then node-pg-migrate runs three folders,
 * each with its own history table: the service's own migrations (migrations/<service>), the
 * kit's tables (migrations/service-kit: HL7 messages applied, conflicts) and the change
 * consumer's positions (@ficus/contracts).
 */
import { fileURLToPath } from 'node:url';
import { runMigrations, type Logger } from '@ficus/contracts';
import { migrateChangeConsumer } from '@ficus/contracts/queues';

/** repo-root/migrations: src/runtime/ (under tsx) and dist/runtime/ (built) sit at the same depth */
export const MIGRATIONS_ROOT = fileURLToPath(new URL('../../../../migrations', import.meta.url));

export async function migrateService(databaseUrl: string, service: string, log?: Logger, root = MIGRATIONS_ROOT): Promise<string[]> {
  const own = await runMigrations({ databaseUrl, dir: `${root}/${service}`, table: `${service.replace(/-/g, '_')}_pgmigrations`, log, createDatabase: true });
  const kit = await runMigrations({ databaseUrl, dir: `${root}/service-kit`, table: 'ficus_service_kit_pgmigrations', log, createDatabase: false });
  const consumer = await migrateChangeConsumer(databaseUrl, log);
  return [...own, ...kit, ...consumer];
}
