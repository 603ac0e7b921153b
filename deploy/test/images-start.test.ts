/**
 * Every image of docker-compose.yml starts from what its Dockerfile puts in it, without Docker:
 * the runtime stage's files are laid out in a folder of their own (the compiled code its build
 * stage makes, the migrations, rules and manifests it copies, nothing else of the repository),
 * the image's ENV and Compose's environment are set (hosts and ports moved to this machine),
 * its CMD is run, and its HEALTHCHECK must answer; SIGTERM must then stop it with exit code 0.
 * A file the code needs but the Dockerfile leaves out (a migrations folder, the rules, the
 * dashboard) makes the process fail here as it would in the container. The npm dependencies
 * are the repository's (linked), so a production dependency missing from a package.json is not
 * caught here.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort, MissingBinaryError, startLocalServices, type LocalServices } from '../../scripts/lib/local-services.js';
import { envOf, imageInstructions, instructions, type Build, type Instruction } from './support/dockerfile.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Service {
  build?: Build;
  environment?: Record<string, string>;
  depends_on?: Record<string, unknown>;
  profiles?: string[];
}

const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const images = Object.entries(compose.services).filter(([, s]) => s.build && !s.profiles);

/** the images in an order that starts each after the images it depends on */
function startOrder(): [string, Service][] {
  const done = new Set<string>();
  const order: [string, Service][] = [];
  const visit = (name: string) => {
    const svc = compose.services[name];
    if (done.has(name) || !svc?.build || svc.profiles) return;
    done.add(name);
    for (const dep of Object.keys(svc.depends_on ?? {})) visit(dep);
    order.push([name, svc]);
  };
  for (const [name] of images) visit(name);
  return order;
}

const workspaceDirs = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;

/** Docker's COPY: a folder's contents into the destination, a file into it (trailing /) or as it */
function copyInto(root: string, op: Instruction): void {
  const parts = op.args.split(/\s+/).filter((p) => !p.startsWith('--chown'));
  const fromStage = parts[0]!.startsWith('--from=') ? parts.shift() : undefined;
  const dst = parts.pop()!;
  for (const src of parts) {
    const source = path.join(ROOT, fromStage ? src.replace(/^\/app\//, '') : src);
    if (!existsSync(source)) throw new Error(`COPY ${op.args}: ${source} does not exist (was it built?)`);
    const target = statSync(source).isDirectory() ? path.join(root, dst) : dst.endsWith('/') ? path.join(root, dst, path.basename(src)) : path.join(root, dst);
    mkdirSync(statSync(source).isDirectory() ? target : path.dirname(target), { recursive: true });
    cpSync(source, target, { recursive: true });
  }
}

/** node_modules as `npm ci` leaves it: the registry's packages (linked) and the workspaces the image holds */
function linkNodeModules(root: string): void {
  const modules = path.join(root, 'node_modules');
  mkdirSync(path.join(modules, '@ficus'), { recursive: true });
  for (const entry of readdirSync(path.join(ROOT, 'node_modules'))) {
    if (entry === '@ficus' || entry === '.bin' || entry.startsWith('.')) continue;
    symlinkSync(path.join(ROOT, 'node_modules', entry), path.join(modules, entry));
  }
  for (const ws of workspaceDirs) {
    if (!existsSync(path.join(root, ws, 'package.json'))) continue;
    const { name } = JSON.parse(readFileSync(path.join(root, ws, 'package.json'), 'utf8')) as { name: string };
    if (name.startsWith('@ficus/')) symlinkSync(path.join(root, ws), path.join(modules, name));
    if (existsSync(path.join(ROOT, ws, 'node_modules'))) symlinkSync(path.join(ROOT, ws, 'node_modules'), path.join(root, ws, 'node_modules'));
  }
}

interface Running {
  name: string;
  child: ChildProcess;
  output: string;
  exited: Promise<number | null>;
}

let services: LocalServices | undefined;
let running: Running[] = [];
const roots: string[] = [];

beforeAll(async () => {
  // this machine's PostgreSQL and Redis of its own: the images' default database names stay apart from other tests
  const saved = { DATABASE_URL: process.env.DATABASE_URL, REDIS_URL: process.env.REDIS_URL };
  delete process.env.DATABASE_URL;
  delete process.env.REDIS_URL;
  try {
    services = await startLocalServices({ name: `images-${process.pid}`, ephemeral: true, log: () => undefined });
  } catch (e) {
    if (!(e instanceof MissingBinaryError)) throw e;
  } finally {
    Object.assign(process.env, saved);
  }
  // what the build stages compile
  const configs = [...new Set(images.map(([, s]) => path.join(ROOT, s.build!.context, s.build!.dockerfile)))].flatMap((file) =>
    instructions(file)
      .filter((o) => o.op === 'RUN' && o.args.startsWith('npx tsc -b '))
      .flatMap((o) => o.args.slice('npx tsc -b '.length).split(/\s+/)),
  );
  execFileSync(path.join(ROOT, 'node_modules/.bin/tsc'), ['-b', ...new Set(configs)], { cwd: ROOT, stdio: 'pipe' });
  if (!existsSync(path.join(ROOT, 'gateway/dashboard/dist/index.html'))) execFileSync(process.execPath, ['scripts/build-dashboard.mjs', '--force'], { cwd: ROOT, stdio: 'pipe' });
}, 240_000);

afterAll(async () => {
  for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
  await services?.stop();
  for (const root of roots) rmSync(root, { recursive: true, force: true });
}, 60_000);

describe('the images, from their Dockerfiles', () => {
  it.skipIf(images.length === 0)('each starts from its own files, answers its health check, and stops cleanly on SIGTERM', { timeout: 300_000 }, async () => {
    expect(services, 'PostgreSQL and Redis binaries are needed').toBeDefined();
    const pg = new URL(services!.databaseUrl);
    const order = startOrder();
    // every port an image listens on, moved to a free one here: "<service>:<container port>" → host port
    const ports = new Map<string, number>();
    const plans = [];
    for (const [name, svc] of order) {
      const stage = imageInstructions(path.join(ROOT, svc.build!.context, svc.build!.dockerfile), svc.build!.target);
      const root = mkdtempSync(path.join(tmpdir(), `ficus-image-${name}-`));
      roots.push(root);
      for (const op of stage.filter((o) => o.op === 'COPY')) copyInto(root, op);
      linkNodeModules(root);
      const composeEnv = Object.fromEntries(Object.entries(svc.environment ?? {}).map(([k, v]) => [k, String(v).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1')]));
      const env: Record<string, string> = { ...envOf(stage), ...composeEnv };
      for (const [k, v] of Object.entries(env)) if (k.endsWith('_PORT') && /^\d+$/.test(v) && !ports.has(`${name}:${v}`)) ports.set(`${name}:${v}`, await freePort());
      const health = /process\.env\.(\w+) \|\| (\d+)\) \+ '([^']+)'/.exec(stage.find((o) => o.op === 'HEALTHCHECK')?.args ?? '');
      expect(health, `${name}: a HEALTHCHECK on a port variable`).not.toBeNull();
      const cmd = JSON.parse(stage.find((o) => o.op === 'CMD')!.args) as string[];
      plans.push({ name, root, env, health: health!, cmd });
    }
    const here = (value: string, root: string) =>
      value
        .replace(/postgres:\/\/[^@/]+@postgres:5432/g, `postgres://postgres@${pg.host}`)
        .replace(/redis:\/\/redis:6379/g, services!.redisUrl)
        .replace(/\b(https?|mllp):\/\/([a-z0-9-]+):(\d+)/g, (m, scheme: string, host: string, port: string) => (ports.has(`${host}:${port}`) ? `${scheme}://127.0.0.1:${ports.get(`${host}:${port}`)}` : m))
        .replace(/^\/app\//, `${root}/`)
        .replace(/^\/var\/lib\/ficus$/, path.join(root, 'var-lib-ficus'));
    for (const plan of plans) {
      const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: plan.root, LOG_LEVEL: 'warn' };
      for (const [k, v] of Object.entries(plan.env)) env[k] = k.endsWith('_PORT') && ports.has(`${plan.name}:${v}`) ? String(ports.get(`${plan.name}:${v}`)) : here(v, plan.root);
      if (env.LOG_LEVEL === 'info') env.LOG_LEVEL = 'warn';
      const child = spawn(process.execPath, plan.cmd.slice(1), { cwd: plan.root, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const r: Running = { name: plan.name, child, output: '', exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
      child.stdout!.on('data', (d: Buffer) => (r.output += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (r.output += d.toString()));
      running.push(r);
      const [, variable, fallback, probe] = plan.health;
      const url = `http://127.0.0.1:${env[variable!] ?? fallback}${probe}`;
      let ok = false;
      for (let i = 0; i < 240 && !ok && child.exitCode === null; i++) {
        ok = await fetch(url).then(
          (res) => res.ok,
          () => false,
        );
        if (!ok) await sleep(250);
      }
      expect(ok, `${plan.name}: ${url}\n${r.output.slice(-3000)}`).toBe(true);
    }
    for (const r of [...running].reverse()) {
      r.child.kill('SIGTERM');
      const code = await Promise.race([r.exited, sleep(30_000).then(() => 'still running')]);
      expect(code, `${r.name} on SIGTERM\n${r.output.slice(-3000)}`).toBe(0);
    }
    running = [];
  });
});
