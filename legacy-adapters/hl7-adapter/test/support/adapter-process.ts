/**
 * The HL7 adapter as its own process, started the way `npm start` starts it (tsx, from
 * source), on ports and databases the test chooses, so that it can be killed (SIGKILL: no
 * shutdown at all) and started again on the same ports and the same databases.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = path.resolve(import.meta.dirname, '../../../..');

export interface AdapterProcess {
  child: ChildProcess;
  /** the last lines it wrote (for failure messages) */
  output(): string;
  kill(): Promise<void>;
  /** SIGTERM, then wait for the exit code */
  stop(): Promise<number | null>;
}

export async function startAdapterProcess(env: Record<string, string>, apiPort: number): Promise<AdapterProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=ficus-source', path.join(ROOT, 'legacy-adapters/hl7-adapter/src/main.ts')], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env, HL7_API_PORT: String(apiPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-8000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the HL7 adapter exited with ${child.exitCode}: ${output}`);
    try {
      const res = await fetch(`http://127.0.0.1:${apiPort}/readyz`);
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      /* not listening yet */
    }
    if (i > 1_200) throw new Error(`the HL7 adapter did not become ready: ${output}`);
    await sleep(50);
  }
  return {
    child,
    output: () => output,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      return exited;
    },
  };
}
