/**
 * `npm test [-- vitest arguments]`: type check, lint, then vitest, stopped cleanly by SIGTERM,
 * SIGINT or SIGHUP (scripts/lib/test-run.ts). package.json runs it with `exec`, so npm's own
 * shell does not stand between npm and this process.
 */
import path from 'node:path';
import { REPO_ROOT } from './lib/local-services.js';
import { runTests } from './lib/test-run.js';

const npm = (script: string) => ({ name: `npm run ${script}`, command: 'npm', args: ['run', script] });

const code = await runTests({
  checks: [npm('typecheck'), npm('lint')],
  tests: { name: 'vitest', command: process.execPath, args: [path.join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...process.argv.slice(2)] },
  servicesName: `test-${process.pid}`,
});
// at once: a clean-up may leave a timer behind (local-services' wait for Redis to exit)
process.exit(code);
