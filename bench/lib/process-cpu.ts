/**
 * CPU time a process and every process it started have used so far (user + system, from
 * /proc/<pid>/stat), so a benchmark can say what one request costs each proxy. Throughput on a
 * shared two-core machine depends on how the cores are shared out; CPU per request does not,
 * and it is what decides how far a proxy can go when it has a core to itself. nginx does its
 * work in a worker its master process started, hence the whole tree.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

interface ProcStat {
  ppid: number;
  /** utime + stime, in clock ticks */
  ticks: number;
}

/** Fields of /proc/<pid>/stat after the command name, which may itself hold spaces and parentheses. */
export function parseProcStat(text: string): ProcStat {
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15
  return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) };
}

function readStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // gone, or no /proc
  }
}

/**
 * CPU microseconds used by `pid` and its live descendants; NaN where there is no /proc.
 * A descendant that has exited counts no more (a parent's cutime, which would hold it, also
 * holds every child that exited before the measured run), so take readings while the tree is up.
 */
export function treeCpuMicros(pid: number): number {
  const root = readStat(pid);
  if (!root) return NaN;
  const childrenOf = new Map<number, number[]>();
  const ticks = new Map<number, number>([[pid, root.ticks]]);
  for (const entry of readdirSync('/proc')) {
    const p = Number(entry);
    if (!Number.isInteger(p) || p === pid) continue;
    const s = readStat(p);
    if (!s) continue;
    ticks.set(p, s.ticks);
    const list = childrenOf.get(s.ppid);
    if (list) list.push(p);
    else childrenOf.set(s.ppid, [p]);
  }
  let total = 0;
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop()!;
    total += ticks.get(p) ?? 0;
    todo.push(...(childrenOf.get(p) ?? []));
  }
  return (total / clockTicks()) * 1e6;
}
