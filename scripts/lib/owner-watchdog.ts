/**
 * Servers that die with the process that started them, however it ends. The private servers run
 * in sessions of their own (a Ctrl-C to the terminal must not reach them before their owner
 * stops them cleanly), so nothing ends them when the owner is killed outright, crashes or is
 * stopped by a signal it does not handle: they would run on, holding ports and memory.
 *
 * A watchdog process (owner-watchdog-process.mjs), in a session of its own too, holds a pipe
 * whose only writer is this process; the kernel closes it when this process ends, for whatever
 * reason, SIGKILL included. At that end of input the watchdog carries out the duties still held:
 * a signal to a server, a stop command, a folder removed. A clean stop does its work itself and
 * releases the duty; once nothing is held the pipe is closed and the watchdog exits, so a clean
 * stop leaves nothing running. Signal handlers and exit hooks (signal-exit, exit-hook) never run
 * on SIGKILL, and a parent-death signal (prctl, `setpriv --pdeathsig`) reaches neither the
 * PostgreSQL that pg_ctl starts as a daemon nor a server started through runuser (a change of
 * user clears it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export type Duty =
  /** a signal to a process, the same one (its start time, where /proc tells); SIGKILL if it lasts */
  | { signal: NodeJS.Signals; pid: number; startTime?: string }
  /** a command run to its end (`pg_ctl stop`) */
  | { command: string[] }
  /** a folder deleted, after the duties taken on after it */
  | { remove: string };

export interface Guard {
  /** the owner has done it itself: the watchdog forgets it (again: nothing) */
  release(): void;
}

const PROGRAM = path.join(import.meta.dirname, 'owner-watchdog-process.mjs');

interface Watchdog {
  process: ChildProcess;
  /** the duties it holds for this process */
  held: Set<number>;
}

let current: Watchdog | undefined;
let lastId = 0;

/**
 * Hands `duty` to this process's watchdog (started when the first duty comes): carried out if
 * this process ends before release() is called, the last taken first.
 */
export function guard(duty: Duty): Guard {
  const id = ++lastId;
  const dog = currentWatchdog();
  send(dog, { guard: id, duty });
  dog.held.add(id);
  return {
    release() {
      if (!dog.held.delete(id)) return;
      send(dog, { release: id });
      // nothing left to guard: end its input, and it exits having nothing to do
      if (dog.held.size === 0) {
        dog.process.stdin?.end();
        if (current === dog) current = undefined;
      }
    },
  };
}

/** Its start time (field 22 of /proc/<pid>/stat): a pid the system reuses gets another. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function currentWatchdog(): Watchdog {
  if (current) return current;
  const env = { ...process.env };
  // the owner's loaders (tsx, vitest's) are not needed and would only slow its start
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [PROGRAM], { stdio: ['pipe', 'ignore', 'ignore'], detached: true, cwd: '/', env });
  const dog: Watchdog = { process: child, held: new Set() };
  // one that could not start or was killed: the next duty gets a new one
  const gone = () => {
    if (current === dog) current = undefined;
  };
  child.on('error', gone);
  child.on('exit', gone);
  child.stdin!.on('error', () => undefined);
  // neither it nor its pipe keeps the owner alive
  child.unref();
  (child.stdin as unknown as { unref(): void }).unref();
  current = dog;
  return dog;
}

function send(dog: Watchdog, message: object): void {
  // a pipe write goes to the kernel at once: it is there for the watchdog even if this process is killed next
  if (dog.process.stdin?.writable) dog.process.stdin.write(`${JSON.stringify(message)}\n`);
}
