#!/usr/bin/env node
// Builds the dashboard (gateway/dashboard, Vite) into gateway/dashboard/dist when it is missing
// or older than its sources, so `npm start`, `npm test` and the image serve what the sources say.
// A stamp in dist/ holds a SHA-256 of every source file; `--force` builds anyway.
// Plain JavaScript on purpose: ensure-deps.mjs runs it before anything is compiled.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const app = path.join(root, 'gateway', 'dashboard');
const stamp = path.join(app, 'dist', '.ficus-build-sha256');

function files(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = path.join(dir, name);
      return statSync(p).isDirectory() ? files(p) : [p];
    });
}

export function sourceHash() {
  const h = createHash('sha256');
  const inputs = [...files(path.join(app, 'src')), path.join(app, 'index.html'), path.join(app, 'vite.config.ts'), path.join(app, 'package.json'), path.join(root, 'package-lock.json')];
  for (const f of inputs) h.update(path.relative(app, f)).update('\0').update(readFileSync(f)).update('\0');
  return h.digest('hex');
}

export function buildDashboard(force = false) {
  const want = sourceHash();
  const have = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
  if (!force && want === have && existsSync(path.join(app, 'dist', 'index.html'))) return false;
  console.error('[ficus] building the dashboard (gateway/dashboard, vite build)...');
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--config', path.join(app, 'vite.config.ts')], { cwd: app, stdio: 'inherit' });
  writeFileSync(stamp, want + '\n');
  return true;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    buildDashboard(process.argv.includes('--force'));
  } catch (e) {
    console.error(`[ficus] the dashboard build failed: ${e.message}`);
    process.exit(1);
  }
}
