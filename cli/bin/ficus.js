#!/usr/bin/env node
// `ficus`, as npm links it into node_modules/.bin. The CLI is TypeScript (cli/src, and the rule
// code of @ficus/contracts). Run through tsx it needs seconds to start (every module goes through
// tsx's loader), too slow for an admin rolling back a rule. So this shim bundles it with esbuild
// (which tsx brings along) into cli/dist/ficus.mjs, again whenever a source file is newer than
// the bundle, and runs the bundle in this process: a few hundred milliseconds. Where esbuild or a
// writable cli/dist is missing, it runs the sources through tsx, as before.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const cli = fileURLToPath(new URL('..', import.meta.url));
const contracts = path.join(cli, '..', 'contracts');
const main = path.join(cli, 'src', 'main.ts');
const bundle = path.join(cli, 'dist', 'ficus.mjs');

function newest(p) {
  const s = statSync(p, { throwIfNoEntry: false });
  if (!s) return 0;
  if (!s.isDirectory()) return s.mtimeMs;
  return readdirSync(p).reduce((m, name) => Math.max(m, newest(path.join(p, name))), s.mtimeMs);
}

async function freshBundle() {
  const built = statSync(bundle, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const sources = Math.max(newest(path.join(cli, 'src')), newest(path.join(contracts, 'src')), newest(path.join(cli, 'package.json')), newest(path.join(contracts, 'package.json')));
  if (built > sources) return bundle;
  try {
    const { build } = await import('esbuild');
    mkdirSync(path.dirname(bundle), { recursive: true });
    // several ficus processes may start at once: each writes its own file, the rename is atomic
    const tmp = `${bundle}.${process.pid}.tmp`;
    await build({
      entryPoints: [main],
      outfile: tmp,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      conditions: ['ficus-source'],
      logLevel: 'silent',
      // CommonJS dependencies bundled into an ES module still call require
      banner: { js: "import { createRequire as ficusRequire } from 'node:module'; const require = ficusRequire(import.meta.url);" },
    });
    renameSync(tmp, bundle);
    return bundle;
  } catch {
    return undefined;
  }
}

const ready = await freshBundle();
if (ready) {
  await import(pathToFileURL(ready).href);
} else {
  const tsx = import.meta.resolve('tsx');
  const child = spawnSync(process.execPath, ['--import', tsx, '--conditions=ficus-source', main, ...process.argv.slice(2)], { stdio: 'inherit' });
  if (child.error) {
    console.error(`ficus: cannot start ${process.execPath}: ${child.error.message}`);
    process.exit(1);
  }
  // a child stopped by a signal (Ctrl-C) stops this process the same way, as a shell expects
  if (child.signal) process.kill(process.pid, child.signal);
  process.exit(child.status ?? 1);
}
