/**
 * Runs the commands of a script that must leave nothing behind when it is stopped (npm test).
 * Each command runs in a process group of its own, so stopping it reaches what it started too
 * (vitest's workers, the servers a test started), and the clean-ups registered with atEnd (the
 * private PostgreSQL and Redis, which run in sessions of their own) run on every way out.
 *
 * SIGTERM (CI runners, `timeout`), SIGINT (Ctrl-C), SIGHUP (a closed terminal), or the parent
 * gone (npm killed outright) stop the running command's group: SIGTERM, then SIGKILL for what is
 * left after a grace period; then the clean-ups run, and the run ends with 128 + the signal's
 * number, as a shell reports a command a signal ended.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Command {
  /** what the messages call it */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /**
   * hold its output and write it in one piece when it ends: for commands run side by side, whose
   * lines would otherwise interleave
   */
  heldOutput?: boolean;
}

export interface Supervisor {
  /** runs a command to its end: its exit code (ended by a signal: 128 + the signal's number) */
  run(command: Command): Promise<number>;
  /** something to do on every way out (the last added first) */
  atEnd(cleanUp: () => Promise<void>): void;
}

export const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const satisfies NodeJS.Signals[];

/** Thrown by run() once the run is stopped: the commands after it do not start. */
class Stopped extends Error {}

export interface SuperviseOptions {
  /** how long a stopped group may take to end after SIGTERM before the rest is killed */
  graceMs?: number;
  say?: (line: string) => void;
}

export async function supervise(main: (s: Supervisor) => Promise<number>, options: SuperviseOptions = {}): Promise<number> {
  const graceMs = options.graceMs ?? 10_000;
  const say = options.say ?? ((line: string) => process.stderr.write(`${line}\n`));
  const cleanUps: (() => Promise<void>)[] = [];
  let stoppedBy: NodeJS.Signals | undefined;
  // process group -> the command's name: several when commands run side by side
  const running = new Map<number, string>();
  let groupsStopped: Promise<unknown> = Promise.resolve();

  const stop = (signal: NodeJS.Signals) => {
    // several signals for one stop are usual: `timeout` signals npm and its group, and npm passes it on
    if (stoppedBy) return;
    stoppedBy = signal;
    const names = [...running].map(([group, name]) => ` ${name} (process group ${group})`).join(' and');
    say(`${signal}:${names ? ` stopping${names} and` : ''} cleaning up`);
    groupsStopped = Promise.all([...running.keys()].map((group) => stopGroup(group, graceMs, say)));
  };
  const onSignal = (signal: NodeJS.Signals) => stop(signal);
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  // npm execs this process, so npm is its parent: npm killed outright must not leave the run going
  const parent = process.ppid;
  const parentWatch = setInterval(() => process.ppid !== parent && stop('SIGHUP'), 500);

  const supervisor: Supervisor = {
    async run(c) {
      if (stoppedBy) throw new Stopped();
      // stdin closed: a process group of its own is not the terminal's foreground, and reading it would stop it
      const output = c.heldOutput ? 'pipe' : 'inherit';
      const child = spawn(c.command, c.args, { stdio: ['ignore', output, output], env: c.env ?? process.env, detached: true });
      const held: Buffer[] = [];
      child.stdout?.on('data', (chunk: Buffer) => held.push(chunk));
      child.stderr?.on('data', (chunk: Buffer) => held.push(chunk));
      const exited = new Promise<number>((resolve, reject) => {
        child.once('error', reject);
        // 'close' once its output is read to the end too, where it is held
        child.once(c.heldOutput ? 'close' : 'exit', (code: number | null, signal: NodeJS.Signals | null) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
      });
      if (child.pid === undefined) return exited; // it did not start: the spawn error
      const group = child.pid;
      running.set(group, c.name);
      try {
        const code = await exited;
        if (held.length > 0) process.stdout.write(Buffer.concat(held));
        if (!stoppedBy) return code;
        await groupsStopped;
        throw new Stopped();
      } finally {
        running.delete(group);
      }
    },
    atEnd: (cleanUp) => void cleanUps.push(cleanUp),
  };

  let code: number;
  try {
    code = await main(supervisor);
  } catch (e) {
    if (!(e instanceof Stopped)) say(`failed: ${(e as Error).message}`);
    code = 1;
  } finally {
    for (const cleanUp of cleanUps.reverse()) await cleanUp().catch((e: Error) => say(`clean-up failed: ${e.message}`));
    clearInterval(parentWatch);
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  }
  return stoppedBy ? 128 + constants.signals[stoppedBy] : code;
}

/** SIGTERM to the whole group; SIGKILL to what is left of it after the grace period; back once it is gone. */
async function stopGroup(group: number, graceMs: number, say: (line: string) => void): Promise<void> {
  signalGroup(group, 'SIGTERM');
  const end = Date.now() + graceMs;
  while (groupAlive(group) && Date.now() < end) await sleep(50);
  if (!groupAlive(group)) return;
  say(`process group ${group} still running ${graceMs} ms after SIGTERM: SIGKILL`);
  signalGroup(group, 'SIGKILL');
  for (let i = 0; i < 100 && groupAlive(group); i++) await sleep(50);
}

function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch {
    /* the group is gone already */
  }
}

/**
 * Whether a process of the group still runs. Where /proc exists, a zombie does not count: a
 * container whose first process reaps no orphans keeps them, and they run nothing.
 */
export function groupAlive(group: number): boolean {
  try {
    process.kill(-group, 0);
  } catch {
    return false;
  }
  if (!existsSync('/proc/self/stat')) return true;
  return readdirSync('/proc').some((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    const stat = processStat(Number(entry));
    return stat !== undefined && stat.group === group && stat.state !== 'Z';
  });
}

/** A process's state and process group, from /proc/<pid>/stat (the name in parentheses may hold spaces). */
export function processStat(pid: number): { state: string; group: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, group: Number(fields[2]) };
  } catch {
    return undefined;
  }
}
