import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { parseProcStat, treeCpuMicros } from './process-cpu.js';

// burns `ms` of its own CPU time (not wall time, so a busy machine only makes it slower), says so,
// then waits, until its parent is gone
const burn = (ms: number, then = '') =>
  `const parent = process.ppid, end = ${ms} * 1000; while (process.cpuUsage().user + process.cpuUsage().system < end) {} ${then} process.stdout.write('burnt\\n'); setInterval(() => process.ppid !== parent && process.exit(), 100);`;

describe('treeCpuMicros', () => {
  it('counts the CPU of a process and of the process it started', async () => {
    const grandchild = burn(300);
    const child = spawn(
      process.execPath,
      ['-e', burn(300, `const g = require('child_process').spawn(process.execPath, ['-e', ${JSON.stringify(grandchild)}], { stdio: ['ignore', 'pipe', 'inherit'] }); g.stdout.once('data', () => process.stdout.write(g.pid + '\\n'));`)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let grandchildPid = NaN;
    try {
      const lines: string[] = [];
      child.stdout.setEncoding('utf8');
      while (lines.length < 2) {
        const [chunk] = (await once(child.stdout, 'data')) as [string];
        lines.push(...chunk.split('\n').filter(Boolean));
      }
      grandchildPid = Number(lines.find((l) => /^\d+$/.test(l)));
      const own = treeCpuMicros(grandchildPid);
      const tree = treeCpuMicros(child.pid!);
      expect(own).toBeGreaterThanOrEqual(290_000);
      // both burnt 300 ms; clock ticks are 10 ms
      expect(tree).toBeGreaterThanOrEqual(580_000);
      expect(tree - own).toBeGreaterThanOrEqual(290_000);
    } finally {
      child.kill('SIGKILL');
      try {
        if (Number.isInteger(grandchildPid)) process.kill(grandchildPid, 'SIGKILL');
      } catch {
        // already gone: it exits when its parent does
      }
    }
    expect(treeCpuMicros(2 ** 22 + 12345)).toBeNaN();
  });

  it('reads a stat line whose command name holds spaces and parentheses', () => {
    const line = '4242 (nginx: worker (x) y) S 4241 4241 4241 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 1 0 123 456 789';
    expect(parseProcStat(line)).toEqual({ ppid: 4241, ticks: 287 });
  });
});
