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
  /**
   * run first, side by side (each is one single-threaded process, and the tests wait for all);
   * each one's output is written when it ends; if any fails, the run ends with the exit code of
   * the first of them in this list that failed, after all have ended
   */
  checks: Command[];
  /** the tests, run with the private servers' addresses in FICUS_TEST_DATABASE_URL / FICUS_TEST_REDIS_URL */
  tests: Command;
  /** the servers' folder under .ficus/ (deleted when they stop) */
  servicesName: string;
}

export function runTests(plan: TestRunPlan, options: SuperviseOptions = {}): Promise<number> {
  return supervise(async (s) => {
    const heldOutput = plan.checks.length > 1;
    if (heldOutput) (options.say ?? ((line: string) => process.stderr.write(`${line}\n`)))(`${plan.checks.map((c) => c.name).join(', ')}: side by side, the output of each when it ends`);
    const ended = await Promise.allSettled(plan.checks.map((check) => s.run({ ...check, heldOutput })));
    const codes = ended.map((end) => {
      if (end.status === 'rejected') throw end.reason;
      return end.value;
    });
    const failed = codes.find((code) => code !== 0);
    if (failed !== undefined) return failed;
    // DATABASE_URL / REDIS_URL, when set, are used as they are and nothing is started
    const services = await startLocalServices({ name: plan.servicesName, ephemeral: true });
    s.atEnd(() => services.stop());
    const env = { ...(plan.tests.env ?? process.env), FICUS_TEST_DATABASE_URL: services.databaseUrl, FICUS_TEST_REDIS_URL: services.redisUrl };
    return s.run({ ...plan.tests, env });
  }, options);
}
