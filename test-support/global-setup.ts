/**
 * Vitest global setup: one private PostgreSQL (wal_level=logical) and one private Redis for
 * the whole run, unless DATABASE_URL / REDIS_URL point elsewhere. Test files reach them with
 * inject('databaseUrl') / inject('redisUrl') and create their own databases.
 */
import type { TestProject } from 'vitest/node';
import { startLocalServices } from '../scripts/lib/local-services.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    redisUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const services = await startLocalServices({ name: `test-${process.pid}`, ephemeral: true });
  project.provide('databaseUrl', services.databaseUrl);
  project.provide('redisUrl', services.redisUrl);
  return async () => {
    await services.stop();
  };
}
