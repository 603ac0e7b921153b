/**
 * Private PostgreSQL and Redis for the demo stack and the test suite, started from the
 * binaries on the machine on spare ports, with data under .ficus/ (git-ignored), and stopped
 * on exit. DATABASE_URL / REDIS_URL, when set, are used instead and nothing is started. Each
 * server dies with the process that started it, however that ends (owner-watchdog.ts).
 *
 * PostgreSQL runs with wal_level=logical (change-data capture needs it). initdb and the server
 * refuse to run as root, so as root they run as the "postgres" user.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, chownSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { guard, processStartTime, type Guard } from './owner-watchdog.js';

export const REPO_ROOT = path.resolve(import.meta.dirname, '..', '..');
export const STATE_DIR = path.join(REPO_ROOT, '.ficus');

export class MissingBinaryError extends Error {}

export interface LocalServices {
  databaseUrl: string;
  redisUrl: string;
  /** true when this process started them (and stop() will stop them) */
  started: { postgres: boolean; redis: boolean };
  stop(): Promise<void>;
}

export interface StartOptions {
  /** a folder name under .ficus/ ("demo" keeps its data between runs; tests use a fresh one) */
  name: string;
  /** delete the data when stopping */
  ephemeral: boolean;
  log?: (line: string) => void;
  /**
   * ports the private servers must not take: ports already handed to the caller's own servers
   * that have not bound them yet (the demo's), which the system may still call spare
   */
  avoidPorts?: Iterable<number>;
  /**
   * Redis writes every command to its append-only file before it answers (`appendfsync always`):
   * CDC confirms a change to PostgreSQL's slot once Redis holds its job, so a Redis that loses
   * its last second on a crash loses changes nothing will send again. The demo needs it; the
   * tests, which never crash their Redis, run without it.
   */
  durableRedis?: boolean;
}

const NO_PORTS: ReadonlySet<number> = new Set();

/** A port from `pick` that is not in `avoid`, asking again as often as it takes (up to 20 times). */
export async function portAvoiding(pick: () => Promise<number> | number, avoid: ReadonlySet<number>): Promise<number> {
  for (let tries = 0; ; tries++) {
    const port = await pick();
    if (!avoid.has(port)) return port;
    if (tries >= 20) throw new Error(`no spare port other than ${[...avoid].join(', ')}`);
  }
}

/** A port nothing listens on now, other than those in `avoid`. */
export function freePort(avoid: ReadonlySet<number> = NO_PORTS): Promise<number> {
  return portAvoiding(systemSparePort, avoid);
}

function systemSparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function which(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function pgBinDir(): string {
  const pgConfig = which('pg_config');
  const candidates: string[] = [];
  if (pgConfig) candidates.push(execFileSync(pgConfig, ['--bindir'], { encoding: 'utf8' }).trim());
  if (existsSync('/usr/lib/postgresql')) {
    for (const v of readdirSync('/usr/lib/postgresql').sort().reverse()) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  }
  const dir = candidates.find((d) => existsSync(path.join(d, 'initdb')) && existsSync(path.join(d, 'pg_ctl')));
  if (!dir) {
    throw new MissingBinaryError(
      'PostgreSQL server binaries (initdb, pg_ctl) not found. Install them (Debian/Ubuntu: `apt-get install postgresql`), ' +
        'or point DATABASE_URL at a PostgreSQL 14+ server with wal_level=logical.',
    );
  }
  return dir;
}

const isRoot = () => process.getuid?.() === 0;

/** Runs a PostgreSQL binary, as the postgres user when we are root. */
function pgCommand(bin: string, args: string[]): [string, string[]] {
  if (!isRoot()) return [bin, args];
  try {
    execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
  } catch {
    throw new MissingBinaryError('running as root, and PostgreSQL refuses to run as root: create a "postgres" user (`useradd -r postgres`) or run as a normal user.');
  }
  return ['runuser', ['-u', 'postgres', '--', bin, ...args]];
}

function run(bin: string, args: string[], logFile?: string): void {
  const [cmd, argv] = pgCommand(bin, args);
  try {
    execFileSync(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string };
    const logTail = logFile && existsSync(logFile) ? `\n${readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n')}` : '';
    throw new Error(`${path.basename(bin)} failed: ${err.stderr ?? ''}${err.stdout ?? ''}${logTail}`);
  }
}

export interface PrivatePostgres {
  url: string;
  port: number;
  /** stops the server (fast shutdown: connections are cut, as in an outage) */
  stop(): Promise<void>;
  /** starts it again on the same port, with the same data */
  start(): Promise<void>;
}

/**
 * Keeps patients' data out of postgres.log: by default a refused row logs its values
 * ("DETAIL: Failing row contains (100020, COOPER, …)") and the failing statement with its
 * literals ("STATEMENT: INSERT … VALUES …"). terse drops DETAIL/HINT/CONTEXT lines; panic logs
 * no statement for an ordinary error; bind parameters are never added to error lines.
 */
export const NO_VALUES_IN_LOG = ['-c log_error_verbosity=terse', '-c log_min_error_statement=panic', '-c log_parameter_max_length_on_error=0'];

/** A PostgreSQL server of its own in `dir` (initialised on first use), on a spare port. */
export async function startPostgres(dir: string, log: (l: string) => void, options: { avoidPorts?: ReadonlySet<number> } = {}): Promise<PrivatePostgres> {
  const bin = pgBinDir();
  const data = path.join(dir, 'pg');
  const logFile = path.join(dir, 'postgres.log');
  mkdirSync(dir, { recursive: true });
  if (isRoot()) {
    chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })));
    try {
      execFileSync('runuser', ['-u', 'postgres', '--', 'test', '-w', dir], { stdio: 'ignore' });
    } catch {
      throw new MissingBinaryError(`PostgreSQL runs as the "postgres" user here, which cannot reach ${dir}: make its parent folders readable (chmod o+x) or clone the repository elsewhere.`);
    }
  }
  // a server left behind by a killed run of the same stack
  if (existsSync(path.join(data, 'postmaster.pid'))) {
    try {
      run(path.join(bin, 'pg_ctl'), ['-D', data, 'stop', '-m', 'fast', '-w']);
    } catch {
      /* not running: a stale pid file */
    }
  }
  if (!existsSync(path.join(data, 'PG_VERSION'))) {
    log(`initialising a private PostgreSQL in ${path.relative(REPO_ROOT, data)}`);
    run(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-instructions']);
  }
  const port = await freePort(options.avoidPorts);
  const settings = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses='127.0.0.1'",
    '-c wal_level=logical',
    '-c max_wal_senders=20',
    '-c max_replication_slots=20',
    '-c max_connections=300',
    '-c shared_buffers=128MB',
    ...NO_VALUES_IN_LOG,
  ].join(' ');
  const stopArgs = ['-D', data, 'stop', '-m', 'fast', '-w', '-t', '60'];
  let stopDuty: Guard | undefined;
  const start = async () => {
    // taken before the start: an owner killed while pg_ctl waits for the server leaves it running otherwise
    stopDuty ??= guard({ command: pgCommand(path.join(bin, 'pg_ctl'), stopArgs).flat() });
    run(path.join(bin, 'pg_ctl'), ['-D', data, '-l', logFile, '-o', settings, '-w', '-t', '60', 'start'], logFile);
  };
  await start();
  log(`private PostgreSQL on 127.0.0.1:${port} (wal_level=logical)`);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop: async () => {
      run(path.join(bin, 'pg_ctl'), stopArgs);
      stopDuty?.release();
      stopDuty = undefined;
    },
  };
}

async function waitForPort(port: number, child: ChildProcess, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`${what} did not start listening on ${port}`);
}

export interface PrivateRedis {
  url: string;
  port: number;
  /** stops the server (SIGTERM: with persistence on, it writes its data first) */
  stop(): Promise<void>;
  /** starts it again on the same port (and, with persistence on, the same data) */
  start(): Promise<void>;
}

/**
 * A Redis server of its own in `dir`, on a spare port. With `persistent`, it keeps its data in
 * an append-only file written at every command, so a stop and a start lose nothing (as a Redis
 * for BullMQ should run); without, nothing is written to disk.
 */
export async function startPrivateRedis(dir: string, log: (l: string) => void, options: { persistent?: boolean; avoidPorts?: ReadonlySet<number> } = {}): Promise<PrivateRedis> {
  const bin = which('redis-server');
  if (!bin) {
    throw new MissingBinaryError('redis-server not found. Install it (Debian/Ubuntu: `apt-get install redis-server`), or point REDIS_URL at a Redis 6.2+ server.');
  }
  const redisDir = path.join(dir, 'redis');
  mkdirSync(redisDir, { recursive: true });
  const pidFile = path.join(redisDir, 'redis.pid');
  if (existsSync(pidFile)) {
    const stale = Number(readFileSync(pidFile, 'utf8'));
    try {
      process.kill(stale, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  const port = await freePort(options.avoidPorts);
  const persistence = options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  let child: ChildProcess | undefined;
  const start = async () => {
    const c = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, '--dir', redisDir, '--logfile', path.join(redisDir, 'redis.log')], {
      stdio: 'ignore',
      detached: true,
    });
    c.unref();
    child = c;
    if (c.pid !== undefined) {
      const duty = guard({ signal: 'SIGTERM', pid: c.pid, startTime: processStartTime(c.pid) });
      c.once('exit', () => duty.release());
    }
    writeFileSync(pidFile, String(c.pid));
    await waitForPort(port, c, 'redis-server');
  };
  await start();
  log(`private Redis on 127.0.0.1:${port}`);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop: async () => {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill('SIGTERM');
      await Promise.race([exited, sleep(5_000)]);
      rmSync(pidFile, { force: true });
    },
  };
}

export async function startLocalServices(options: StartOptions): Promise<LocalServices> {
  const log = options.log ?? ((l: string) => process.stderr.write(`[services] ${l}\n`));
  const dir = path.join(STATE_DIR, options.name);
  const stops: (() => Promise<void>)[] = [];
  let databaseUrl = process.env.DATABASE_URL;
  let redisUrl = process.env.REDIS_URL;
  const started = { postgres: false, redis: false };
  const avoidPorts = new Set(options.avoidPorts ?? []);
  // taken before the servers' duties, so carried out after them
  const removal = options.ephemeral ? guard({ remove: dir }) : undefined;
  try {
    if (!databaseUrl) {
      const pg = await startPostgres(dir, log, { avoidPorts });
      databaseUrl = pg.url;
      stops.push(pg.stop);
      started.postgres = true;
    }
    if (!redisUrl) {
      const redis = await startPrivateRedis(dir, log, { avoidPorts, persistent: options.durableRedis });
      redisUrl = redis.url;
      stops.push(redis.stop);
      started.redis = true;
    }
  } catch (e) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    removal?.release();
    throw e;
  }
  let stopped = false;
  return {
    databaseUrl,
    redisUrl,
    started,
    async stop() {
      if (stopped) return;
      stopped = true;
      for (const stop of stops.reverse()) await stop().catch((e: Error) => log(`stop failed: ${e.message}`));
      if (options.ephemeral) rmSync(dir, { recursive: true, force: true });
      removal?.release();
    },
  };
}
