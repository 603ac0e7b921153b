/**
 * What the CLI tests run against: a real gateway on a real rule store (a database of its own
 * on the run's PostgreSQL), over two test upstreams, and `ficus` started as a real process
 * through the shim, with an environment of its own (no FICUS_* or config file of the machine).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { ADMIN_TOKEN, adminClient, seedRules, startStoreGateway, type StoreGateway } from '../../../gateway/test/support/store-gateway.js';
import { startTestUpstream, type TestUpstream } from '../../../gateway/test/support/test-upstream.js';

export { ADMIN_TOKEN };

export const SHIM = path.resolve(import.meta.dirname, '../../bin/ficus.js');
export const REPO_ROOT = path.resolve(import.meta.dirname, '../../..');
/** the `ficus` that `npm install` links for `npx ficus` */
export const LINKED_BIN = path.join(REPO_ROOT, 'node_modules', '.bin', 'ficus');

export interface Run {
  args: string[];
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Scene {
  gw: StoreGateway;
  admin: ReturnType<typeof adminClient>;
  legacy: TestUpstream;
  fresh: TestUpstream;
  /** a scratch folder (also the CLI's HOME), removed at the end */
  dir: string;
  /** every run so far, to check that no output ever shows the admin token */
  runs: Run[];
  /** `ficus ...args`; env entries override the defaults (admin URL and token of the scene), undefined removes one */
  ficus(args: string[], opts?: { env?: Record<string, string | undefined>; cwd?: string; command?: string }): Promise<Run>;
  close(): Promise<void>;
}

function cleanEnv(home: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('FICUS_') && k !== 'XDG_CONFIG_HOME' && k !== 'NODE_OPTIONS') env[k] = v;
  }
  env.HOME = home;
  return env;
}

export type Ficus = Scene['ficus'];

/**
 * `ficus` started through the shim, against `adminUrl` with the admin token, in an
 * environment of its own (HOME is `home`); every run is kept in `runs`.
 */
export function ficusRunner(adminUrl: string, home: string, runs: Run[]): Ficus {
  return (args, opts = {}) =>
    new Promise((resolve, reject) => {
      const env = { ...cleanEnv(home), FICUS_ADMIN_URL: adminUrl, FICUS_TOKEN: ADMIN_TOKEN };
      for (const [k, v] of Object.entries(opts.env ?? {})) {
        if (v === undefined) delete env[k as keyof typeof env];
        else env[k as keyof typeof env] = v;
      }
      const [command, argv] = opts.command ? [opts.command, args] : [process.execPath, [SHIM, ...args]];
      const child = spawn(command, argv, { cwd: opts.cwd ?? REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        const run = { args, code, stdout, stderr };
        runs.push(run);
        resolve(run);
      });
    });
}

export async function startScene(name: string): Promise<Scene> {
  const db: TestDatabase = await createTestDatabase(inject('databaseUrl'), name);
  const legacy = await startTestUpstream('legacy');
  const fresh = await startTestUpstream('new');
  const gw = await startStoreGateway({ storeUrl: db.url, redisUrl: inject('redisUrl'), files: seedRules(legacy.url, fresh.url) });
  const dir = mkdtempSync(path.join(tmpdir(), 'ficus-cli-test-'));
  const runs: Run[] = [];

  const ficus = ficusRunner(gw.adminUrl, dir, runs);

  return {
    gw,
    admin: adminClient(gw.adminUrl),
    legacy,
    fresh,
    dir,
    runs,
    ficus,
    async close() {
      await gw.close();
      await legacy.close();
      await fresh.close();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The route header of a request through the gateway, once it says `want` (rule changes apply within a second). */
export async function routeOf(gatewayUrl: string, path: string, want: string): Promise<string | null> {
  let route: string | null = null;
  for (let i = 0; i < 100; i++) {
    const res = await fetch(gatewayUrl + path);
    await res.arrayBuffer();
    route = res.headers.get('x-ficus-route');
    if (route === want) break;
    await new Promise((r) => setTimeout(r, 30));
  }
  return route;
}

export const parse = <T = Record<string, unknown>>(run: Run): T => JSON.parse(run.stdout) as T;
