/**
 * Time the hypervisor kept this virtual machine's CPUs from running it (the `steal` column of
 * /proc/stat), as a share of all CPU time between two readings: on a shared VM, a busy
 * neighbour shows here, and a latency tail while it is high says more about the host than
 * about what was measured. NaN where /proc/stat is not there.
 */
import { readFileSync } from 'node:fs';

interface CpuTimes {
  steal: number;
  total: number;
}

export function cpuTimes(): CpuTimes {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is counted in user already)
    const total = ticks.slice(0, 8).reduce((a, b) => a + b, 0);
    return { steal: ticks[7] ?? 0, total };
  } catch {
    return { steal: NaN, total: NaN };
  }
}

/** percent of CPU time stolen since `from` */
export function stealSince(from: CpuTimes): number {
  const now = cpuTimes();
  return ((now.steal - from.steal) / (now.total - from.total)) * 100;
}
