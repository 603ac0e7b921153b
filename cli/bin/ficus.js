#!/usr/bin/env node
// `ficus`, as npm links it into node_modules/.bin. The CLI is TypeScript run from source, as
// every deployable of the repository is: this shim starts Node with tsx and the `ficus-source`
// condition (so @ficus/contracts resolves to its TypeScript) and passes the exit code on.
// tsx is resolved from this file, not from the caller's folder, so `ficus` works from anywhere.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const tsx = import.meta.resolve('tsx');

const child = spawnSync(process.execPath, ['--import', tsx, '--conditions=ficus-source', main, ...process.argv.slice(2)], { stdio: 'inherit' });
if (child.error) {
  console.error(`ficus: cannot start ${process.execPath}: ${child.error.message}`);
  process.exit(1);
}
// a child stopped by a signal (Ctrl-C) stops this process the same way, as a shell expects
if (child.signal) process.kill(process.pid, child.signal);
process.exit(child.status ?? 1);
