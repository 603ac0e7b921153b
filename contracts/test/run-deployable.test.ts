/**
 * SIGTERM while a deployable is still starting (migrations, a slow database): in a container
 * whose PID 1 is node itself, a signal without a handler is ignored, and the container runs
 * on until SIGKILL. The handler is there from the first moment: the process closes as soon as
 * its start returns, or exits after its shutdown bound when the start hangs.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const FIXTURE = path.join(import.meta.dirname, 'support/slow-start-deployable.ts');

async function signalDuringStart(env: Record<string, string>): Promise<{ code: number | null; signal: string | null; ms: number; messages: string[]; times: Map<string, number> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let signalledAt = 0;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (!signalledAt && out.includes('"msg":"starting"')) {
      signalledAt = Date.now();
      child.kill('SIGTERM');
    }
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])));
  const lines = out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; time: string });
  return { code, signal, ms: Date.now() - signalledAt, messages: lines.map((l) => l.msg), times: new Map(lines.map((l) => [l.msg, Date.parse(l.time)])) };
}

describe('a signal during the start', () => {
  it('is handled: the deployable finishes starting, closes and exits 0', async () => {
    const r = await signalDuringStart({ START_MS: '1500', SHUTDOWN_TIMEOUT_MS: '10000' });
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 0, signal: null });
    const order = ['starting', 'SIGTERM while starting: stopping as soon as the start returns', 'started', 'shutting down: nothing in hand', 'closed', 'stopped'];
    expect([...r.messages].sort()).toEqual([...order].sort());
    // the order things happened in, by the time each line carries: pino's asynchronous writer
    // may put a line on the pipe after later ones when the reader is slow (seen under load)
    const times = order.map((m) => r.times.get(m)!);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(r.ms).toBeLessThan(5_000);
  });

  it('a start that never ends: exits 1 at the shutdown bound, counted from the signal', async () => {
    const r = await signalDuringStart({ START_MS: 'never', SHUTDOWN_TIMEOUT_MS: '800' });
    expect({ code: r.code, signal: r.signal }).toEqual({ code: 1, signal: null });
    expect(r.ms).toBeGreaterThanOrEqual(700);
    expect(r.ms).toBeLessThan(4_000);
    expect(r.messages).not.toContain('started');
  });
});
