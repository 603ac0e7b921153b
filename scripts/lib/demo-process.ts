/**
 * The demo started by a test as a terminal would run it: in a process group of its own, its
 * output kept, up once it says "stack is up" (the demo test runs `npm start` in a fresh copy;
 * the migration test runs scripts/demo.ts in the repository).
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DemoProcess {
  pid: number;
  output(): string;
  /** its exit code (null after a signal) */
  exited: Promise<number | null>;
  /** resolves once the stack is up; throws with the output if the demo exits or is not up in time */
  up(timeoutMs?: number): Promise<void>;
  /** Ctrl-C: SIGINT to the whole process group, then its exit (or the timeout) */
  interrupt(timeoutMs?: number): Promise<void>;
}

export function startDemoProcess(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): DemoProcess {
  const demo = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  demo.stdout.on('data', (d: Buffer) => (output += d.toString()));
  demo.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
  return {
    pid: demo.pid!,
    output: () => output,
    exited,
    async up(timeoutMs = 300_000) {
      const end = Date.now() + timeoutMs;
      while (!output.includes('stack is up')) {
        if (demo.exitCode !== null || demo.signalCode !== null) throw new Error(`the demo exited early:\n${output}`);
        if (Date.now() > end) throw new Error(`the demo did not come up:\n${output.slice(-5000)}`);
        await sleep(250);
      }
    },
    async interrupt(timeoutMs = 60_000) {
      if (demo.exitCode !== null || demo.signalCode !== null) return;
      try {
        process.kill(-demo.pid!, 'SIGINT');
      } catch {
        return; // the group is gone already
      }
      await Promise.race([exited, sleep(timeoutMs)]);
    },
  };
}
