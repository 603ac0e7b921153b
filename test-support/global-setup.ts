/**
 * Vitest global setup: one private PostgreSQL (wal_level=logical) and one private Redis for
 * the whole run, unless DATABASE_URL / REDIS_URL point elsewhere or the test runner started them
 * (FICUS_TEST_DATABASE_URL / FICUS_TEST_REDIS_URL). Test files reach them with
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
  // npm test starts them itself (scripts/lib/test-run.ts): vitest stopped by a signal skips its teardown
  const { FICUS_TEST_DATABASE_URL: givenDatabase, FICUS_TEST_REDIS_URL: givenRedis } = process.env;
  if (givenDatabase && givenRedis) {
    project.provide('databaseUrl', givenDatabase);
    project.provide('redisUrl', givenRedis);
    return;
  }
  const services = await startLocalServices({ name: `test-${process.pid}`, ephemeral: true });
  project.provide('databaseUrl', services.databaseUrl);
  project.provide('redisUrl', services.redisUrl);
  return async () => {
    await services.stop();
  };
}
