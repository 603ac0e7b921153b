/**
 * runTests() on a quick path, for test-run.test.ts: a check, then "tests" that print their
 * process, a worker of theirs that ignores SIGTERM (as a hung vitest worker would) and the
 * servers they were given, then wait to be stopped. Arguments: the servers' folder name, and
 * what the run does: `wait`, `exit:<code>` (the tests end by themselves), `check-fails`.
 */
import { runTests } from './test-run.js';

const [servicesName, mode = 'wait'] = process.argv.slice(2);

const WORKER = `process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000);`;
const TESTS = `
const { spawn } = require('node:child_process');
const report = (worker) => console.log(JSON.stringify({ tests: process.pid, worker, databaseUrl: process.env.FICUS_TEST_DATABASE_URL, redisUrl: process.env.FICUS_TEST_REDIS_URL }));
const exit = /^exit:(\\d+)$/.exec(${JSON.stringify(mode)});
if (exit) {
  report(null);
  process.exit(Number(exit[1]));
}
const worker = spawn(process.execPath, ['-e', ${JSON.stringify(WORKER)}], { stdio: ['ignore', 'pipe', 'inherit'] });
worker.stdout.once('data', () => report(worker.pid));
setInterval(() => {}, 1000);
`;

console.log(JSON.stringify({ runner: process.pid }));
const code = await runTests(
  {
    checks: [{ name: 'check', command: process.execPath, args: ['-e', `process.exit(${mode === 'check-fails' ? 2 : 0})`] }],
    tests: { name: 'tests', command: process.execPath, args: ['-e', TESTS] },
    servicesName: servicesName!,
  },
  { graceMs: 1_000 },
);
// at once: a clean-up may leave a timer behind (local-services' wait for Redis to exit)
process.exit(code);
