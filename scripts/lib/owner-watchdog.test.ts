/**
 * The private servers die with the process that started them, even killed outright (SIGKILL:
 * no handler, no exit hook runs): a real owner process (server-owner-fixture.ts) starts them
 * through the real code and is killed; the servers' processes end and their ports close soon
 * after. The demo's folder keeps its data; an ephemeral folder goes.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { processStartTime } from './owner-watchdog.js';
import { REPO_ROOT, STATE_DIR, startPostgres } from './local-services.js';

const FIXTURE = path.join(import.meta.dirname, 'server-owner-fixture.ts');
const cleanUps: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanUp of cleanUps.splice(0).reverse()) await cleanUp();
});

interface Report {
  redisUrl: string;
  databaseUrl?: string;
  folder?: string;
}

/** The owner, up once it says where its servers are. */
async function startOwner(args: string[], env: NodeJS.ProcessEnv = {}) {
  const ownEnv = { ...process.env, ...env };
  for (const name of ['DATABASE_URL', 'REDIS_URL']) if (!(name in env)) delete ownEnv[name];
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, ...args], { cwd: REPO_ROOT, env: ownEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  cleanUps.push(() => void child.kill('SIGKILL'));
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  for (;;) {
    const line = output.split('\n').find((l) => l.startsWith('{'));
    if (line) return { child, report: JSON.parse(line) as Report, output: () => output };
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the owner ended before its servers were up:\n${output}`);
    await sleep(50);
  }
}

/** A server process as found now: its pid and start time, to tell it from a later one with its pid. */
function serverProcess(pidFile: string) {
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  return { pid, startTime: processStartTime(pid) };
}

function running(p: { pid: number; startTime: string | undefined }): boolean {
  const stat = existsSync(`/proc/${p.pid}/stat`) ? readFileSync(`/proc/${p.pid}/stat`, 'utf8') : undefined;
  if (stat === undefined) return false;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[0] !== 'Z' && fields[19] === p.startTime;
}

const listening = (url: string) =>
  new Promise<boolean>((resolve) => {
    const { hostname, port } = new URL(url);
    const socket = createConnection({ host: hostname, port: Number(port) }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

async function eventually(what: string, check: () => boolean | Promise<boolean>, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`not within ${deadlineMs} ms: ${what}`);
    await sleep(50);
  }
}

async function killOutright(owner: { child: ReturnType<typeof spawn> }): Promise<void> {
  const ended = new Promise((resolve) => owner.child.once('exit', resolve));
  owner.child.kill('SIGKILL');
  await ended;
}

describe('an owner of private servers killed outright (SIGKILL)', () => {
  it('takes its Redis with it: the process ends and the port closes', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ficus-owner-'));
    cleanUps.push(() => rmSync(dir, { recursive: true, force: true }));
    const owner = await startOwner(['redis', dir]);
    const redis = serverProcess(path.join(dir, 'redis', 'redis.pid'));
    cleanUps.push(() => void (running(redis) && process.kill(redis.pid, 'SIGKILL')));
    expect([running(redis), await listening(owner.report.redisUrl)]).toEqual([true, true]);

    await killOutright(owner);
    await eventually('redis-server ended', () => !running(redis));
    await eventually('its port closed', async () => !(await listening(owner.report.redisUrl)));
  });

  it('takes the demo\'s PostgreSQL and Redis with it, stopped as a clean stop does: the folder keeps the data', async () => {
    const name = `test-owner-${process.pid}`;
    const folder = path.join(STATE_DIR, name);
    cleanUps.push(() => rmSync(folder, { recursive: true, force: true }));
    const owner = await startOwner(['services', name, 'kept']);
    const postgres = serverProcess(path.join(folder, 'pg', 'postmaster.pid'));
    const redis = serverProcess(path.join(folder, 'redis', 'redis.pid'));
    cleanUps.push(() => {
      for (const p of [postgres, redis]) if (running(p)) process.kill(p.pid, 'SIGKILL');
    });
    const client = new pg.Client({ connectionString: owner.report.databaseUrl });
    await client.connect();
    await client.query('CREATE TABLE kept (n int); INSERT INTO kept VALUES (7)');
    await client.end();

    await killOutright(owner);
    await eventually('postgres ended', () => !running(postgres));
    await eventually('redis-server ended', () => !running(redis));
    for (const url of [owner.report.databaseUrl!, owner.report.redisUrl]) await eventually(`${url} closed`, async () => !(await listening(url)));

    // a fast stop, not a crash: started again on the same folder, the data is there
    const again = await startPostgres(folder, () => undefined);
    try {
      const reader = new pg.Client({ connectionString: again.url });
      await reader.connect();
      const { rows } = await reader.query('SELECT n FROM kept');
      await reader.end();
      expect(rows).toEqual([{ n: 7 }]);
    } finally {
      await again.stop();
    }
  }, 120_000);

  it('deletes an ephemeral folder once its servers have stopped', async () => {
    const name = `test-owner-ephemeral-${process.pid}`;
    const folder = path.join(STATE_DIR, name);
    cleanUps.push(() => rmSync(folder, { recursive: true, force: true }));
    // PostgreSQL from elsewhere (never reached): Redis alone is started, in the folder
    const owner = await startOwner(['services', name, 'ephemeral'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/unused' });
    const redis = serverProcess(path.join(folder, 'redis', 'redis.pid'));
    cleanUps.push(() => void (running(redis) && process.kill(redis.pid, 'SIGKILL')));

    await killOutright(owner);
    await eventually('redis-server ended', () => !running(redis));
    await eventually('the folder deleted', () => !existsSync(folder));
    expect(await listening(owner.report.redisUrl)).toBe(false);
  });
});
