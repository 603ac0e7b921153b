/**
 * runTests() on a quick path, for test-run.test.ts: a check, then "tests" that print their
 * process, a worker of theirs that ignores SIGTERM (as a hung vitest worker would) and the
 * servers they were given, then wait to be stopped. Arguments: the servers' folder name, and
 * what the run does: `wait`, `exit:<code>` (the tests end by themselves), `check-fails`;
 * `checks-meet` (two checks that each wait, up to 10 s, for a mark the other leaves: run one
 * after the other, the first gives up with 9; the second ends with 3), `checks-wait` (two checks
 * that leave their pids and wait to be stopped, one of them ignoring SIGTERM). The checks' marks
 * and pids go to the folder FICUS_TEST_RUN_MARKS names.
 */
import type { Command } from './supervised-run.js';
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

/** a check that leaves `<name>.mark`, waits for `<other>.mark`, says so and exits with `code` */
const meeting = (name: string, other: string, code: number): Command => ({
  name,
  command: process.execPath,
  args: ['-e', `
const { existsSync, writeFileSync } = require('node:fs');
const dir = process.env.FICUS_TEST_RUN_MARKS;
writeFileSync(dir + '/${name}.mark', '');
const end = Date.now() + 10_000;
const look = setInterval(() => {
  if (existsSync(dir + '/${other}.mark')) { console.log('${name} met ${other}'); process.exit(${code}); }
  if (Date.now() > end) { console.log('${name} waited in vain'); process.exit(9); }
}, 20);`],
});
const waiting = (name: string, ignoreTerm: boolean): Command => ({
  name,
  command: process.execPath,
  args: ['-e', `${ignoreTerm ? "process.on('SIGTERM', () => {});" : ''} require('node:fs').writeFileSync(process.env.FICUS_TEST_RUN_MARKS + '/${name}.pid', String(process.pid)); setInterval(() => {}, 1000);`],
});
const checks: Record<string, Command[]> = {
  'checks-meet': [meeting('one', 'two', 0), meeting('two', 'one', 3)],
  'checks-wait': [waiting('one', false), waiting('two', true)],
};

console.log(JSON.stringify({ runner: process.pid }));
const code = await runTests(
  {
    checks: checks[mode] ?? [{ name: 'check', command: process.execPath, args: ['-e', `process.exit(${mode === 'check-fails' ? 2 : 0})`] }],
    tests: { name: 'tests', command: process.execPath, args: ['-e', TESTS] },
    servicesName: servicesName!,
  },
  { graceMs: 1_000 },
);
// at once: a clean-up may leave a timer behind (local-services' wait for Redis to exit)
process.exit(code);
