/**
 * The gateway as its own process, started the way `npm start` starts it, for tests that
 * measure the process (memory) or stop it with a signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../../scripts/lib/local-services.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');

export interface GatewayProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  /** resident memory now, in bytes (Linux /proc) */
  rss(): number;
  stop(): Promise<number | null>;
}

export async function startGatewayProcess(env: Record<string, string>): Promise<GatewayProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=ficus-source', path.join(ROOT, 'gateway/src/main.ts')], {
    env: { ...process.env, FICUS_GATEWAY_HOST: '127.0.0.1', FICUS_GATEWAY_PORT: String(port), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-5000)));
  child.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-5000)));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`gateway exited with ${child.exitCode}: ${output}`);
    try {
      const res = await fetch(url + '/readyz');
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {
      /* not yet */
    }
    if (i > 400) throw new Error(`gateway not ready: ${output}`);
    await sleep(50);
  }
  return {
    url,
    pid: child.pid!,
    child,
    rss() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
    },
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}
