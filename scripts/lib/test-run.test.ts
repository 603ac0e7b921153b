/**
 * The test runner (npm test) stopped as CI runners, `timeout`, Ctrl-C and a closed terminal stop
 * it, as real processes: the runner on a quick path (test-run-fixture.ts) with a real private
 * PostgreSQL and Redis, "tests" in their own process group with a worker that ignores SIGTERM.
 * Whatever stops it, the tests and their worker end, the servers are stopped and their folder is
 * gone, and the run ends non-zero (128 + the signal's number).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { constants, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, type ExpectStatic, it } from 'vitest';
import { REPO_ROOT, STATE_DIR } from './local-services.js';
import { processStat } from './supervised-run.js';

const FIXTURE = path.join(import.meta.dirname, 'test-run-fixture.ts');
let runs = 0;

interface Reported {
  tests: number;
  worker: number | null;
  databaseUrl: string;
  redisUrl: string;
}

/** The fixture's environment: its own servers always (DATABASE_URL / REDIS_URL would make it use those). */
function fixtureEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'FICUS_TEST_DATABASE_URL', 'FICUS_TEST_REDIS_URL']) delete env[name];
  return env;
}

/**
 * Starts the runner, directly or (`parent: true`) under a node process of its own that the test
 * can kill outright, as npm can be.
 */
function startRun(mode: string, opts: { parent?: boolean; marks?: string } = {}) {
  const servicesName = `test-run-${process.pid}-${++runs}`;
  const env = { ...fixtureEnv(), FICUS_TEST_RUN_MARKS: opts.marks ?? '' };
  const args = ['--import', 'tsx', FIXTURE, servicesName, mode];
  const child: ChildProcess = opts.parent
    ? spawn(process.execPath, ['-e', `require('node:child_process').spawn(process.execPath, ${JSON.stringify(args)}, { stdio: 'inherit' }); setInterval(() => {}, 1000);`], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  // 'close': every holder of the pipes is gone, the runner included when it runs under a parent
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const line = <T>(key: string): T | undefined => {
    const found = output.split('\n').find((l) => l.startsWith(`{"${key}"`));
    return found === undefined ? undefined : (JSON.parse(found) as T);
  };
  return {
    child,
    folder: path.join(STATE_DIR, servicesName),
    output: () => output,
    closed,
    runnerPid: () => line<{ runner: number }>('runner')?.runner,
    async reported(): Promise<Reported> {
      for (;;) {
        const r = line<Reported>('tests');
        if (r) return r;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the run ended before its tests started:\n${output}`);
        await sleep(50);
      }
    },
  };
}

const gone = (pid: number) => {
  const stat = processStat(pid);
  return stat === undefined || stat.state === 'Z';
};

const refused = (url: string) =>
  new Promise<boolean>((resolve) => {
    const { hostname, port } = new URL(url);
    const socket = createConnection({ host: hostname, port: Number(port) }, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(true));
  });

async function expectNothingLeft(expect: ExpectStatic, run: ReturnType<typeof startRun>, r: Reported) {
  for (const pid of [r.tests, ...(r.worker === null ? [] : [r.worker])]) expect(gone(pid), `process ${pid}\n${run.output()}`).toBe(true);
  expect([await refused(r.databaseUrl), await refused(r.redisUrl)], run.output()).toEqual([true, true]);
  expect(existsSync(run.folder), run.folder).toBe(false);
}

describe('npm test stopped', () => {
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    it(`by ${signal}: ends the tests and what they started, stops the private PostgreSQL and Redis, exits ${128 + constants.signals[signal]}`, async ({ expect }) => {
      const run = startRun('wait');
      const r = await run.reported();
      expect(r.worker).not.toBeNull();
      expect([await refused(r.databaseUrl), await refused(r.redisUrl)]).toEqual([false, false]);
      run.child.kill(signal);
      expect(await run.closed, run.output()).toBe(128 + constants.signals[signal]);
      await expectNothingLeft(expect, run, r);
    });
  }

  it('by its parent killed outright (npm gets SIGKILL): the same, once it notices', async ({ expect }) => {
    const run = startRun('wait', { parent: true });
    const r = await run.reported();
    run.child.kill('SIGKILL');
    // the runner still holds the pipes: they close when it is done
    await run.closed;
    const runner = run.runnerPid()!;
    while (!gone(runner)) await sleep(50);
    expect(run.output()).toContain('SIGHUP: stopping tests');
    await expectNothingLeft(expect, run, r);
  });
});

describe('npm test not stopped', () => {
  it('passes on the tests\' exit code and stops the servers', async ({ expect }) => {
    const run = startRun('exit:3');
    const r = await run.reported();
    expect(await run.closed, run.output()).toBe(3);
    await expectNothingLeft(expect, run, r);
  });

  it('ends at a failed check, with its exit code, before starting any server', async ({ expect }) => {
    const run = startRun('check-fails');
    expect(await run.closed, run.output()).toBe(2);
    expect(run.output()).not.toContain('{"tests"');
    expect(existsSync(run.folder)).toBe(false);
  });
});

describe('npm test with two checks (type check and lint)', () => {
  const marks = () => mkdtempSync(path.join(tmpdir(), 'ficus-test-run-'));

  it('runs them side by side, writes the output of each whole, and ends with the failed one\'s code before any server', async ({ expect }) => {
    const dir = marks();
    try {
      const run = startRun('checks-meet', { marks: dir });
      // one after the other, the first would wait for the second in vain and end with 9
      expect(await run.closed, run.output()).toBe(3);
      expect(run.output()).toContain('one met two');
      expect(run.output()).toContain('two met one');
      expect(run.output()).toContain('one, two: side by side');
      expect(run.output()).not.toContain('{"tests"');
      expect(existsSync(run.folder)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stopped while both run: both end (one ignoring SIGTERM), exit 143', async ({ expect }) => {
    const dir = marks();
    try {
      const run = startRun('checks-wait', { marks: dir });
      const pidOf = (name: string) => (existsSync(path.join(dir, `${name}.pid`)) ? Number(readFileSync(path.join(dir, `${name}.pid`), 'utf8')) : undefined);
      // one after the other, the second would never start
      for (const end = Date.now() + 15_000; pidOf('one') === undefined || pidOf('two') === undefined; ) {
        if (run.child.exitCode !== null || Date.now() > end) throw new Error(`both checks did not start:\n${run.output()}`);
        await sleep(50);
      }
      run.child.kill('SIGTERM');
      expect(await run.closed, run.output()).toBe(128 + constants.signals.SIGTERM);
      expect([gone(pidOf('one')!), gone(pidOf('two')!)], run.output()).toEqual([true, true]);
      expect(run.output()).toMatch(/SIGTERM: stopping one \(process group \d+\) and two \(process group \d+\) and cleaning up/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
