#!/usr/bin/env node
// Installs the npm dependencies from the lock file when they are missing or stale, so that
// `npm start`, `npm test` and `npm run bench` work on a fresh clone with nothing run before.
// Plain JavaScript on purpose: it runs before any dependency exists.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`Ficus needs Node.js 20.19 or newer (found ${process.versions.node}).`);
  process.exit(1);
}

const lock = path.join(root, 'package-lock.json');
const stamp = path.join(root, 'node_modules', '.ficus-lock-sha256');
const want = createHash('sha256').update(readFileSync(lock)).digest('hex');
const have = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';

if (want !== have) {
  console.error('[ficus] installing npm dependencies from package-lock.json (npm ci)...');
  try {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: root, stdio: 'inherit' });
  } catch {
    console.error('[ficus] npm ci failed: check the network access to the npm registry and try again.');
    process.exit(1);
  }
  writeFileSync(stamp, want + '\n');
}

// the dashboard the admin API serves at /admin, built by the project's own build (no CDN)
const { buildDashboard } = await import('./build-dashboard.mjs');
try {
  buildDashboard();
} catch (e) {
  console.error(`[ficus] the dashboard build failed: ${e.message}`);
  process.exit(1);
}
