/**
 * What `npm test` runs: the checks (type check, lint), then the tests with a private PostgreSQL
 * and Redis that this process starts and stops itself. Vitest's global setup takes them from
 * FICUS_TEST_DATABASE_URL / FICUS_TEST_REDIS_URL instead of starting its own, because vitest
 * stopped by a signal exits without its global teardown: servers it started would run on. Under
 * supervise(), a stop at any point ends the command running and then stops the servers.
 */
import { startLocalServices } from './local-services.js';
import { supervise, type Command, type SuperviseOptions } from './supervised-run.js';

export interface TestRunPlan {
  /** run first, in order; the first that fails ends the run with its exit code */
  checks: Command[];
  /** the tests, run with the private servers' addresses in FICUS_TEST_DATABASE_URL / FICUS_TEST_REDIS_URL */
  tests: Command;
  /** the servers' folder under .ficus/ (deleted when they stop) */
  servicesName: string;
}

export function runTests(plan: TestRunPlan, options: SuperviseOptions = {}): Promise<number> {
  return supervise(async (s) => {
    for (const check of plan.checks) {
      const code = await s.run(check);
      if (code !== 0) return code;
    }
    // DATABASE_URL / REDIS_URL, when set, are used as they are and nothing is started
    const services = await startLocalServices({ name: plan.servicesName, ephemeral: true });
    s.atEnd(() => services.stop());
    const env = { ...(plan.tests.env ?? process.env), FICUS_TEST_DATABASE_URL: services.databaseUrl, FICUS_TEST_REDIS_URL: services.redisUrl };
    return s.run({ ...plan.tests, env });
  }, options);
}
