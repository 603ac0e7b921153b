/**
 * A constant-rate (open-loop) load generator in the manner of wrk2: requests are scheduled at
 * fixed times, whatever the answers do, and each latency is measured from the time the request
 * was *due*, so a stall shows up in the percentiles instead of hiding (no coordinated omission).
 * autocannon's rate mode reports whole milliseconds, too coarse for a 2 ms budget. Requests
 * are sent by a 1 ms timer, so each may leave up to 1 ms late; that delay counts in every
 * target's latency alike.
 */
import { performance } from 'node:perf_hooks';
import { Pool, type Dispatcher } from 'undici';

export interface RateResult {
  sent: number;
  ok: number;
  errors: number;
  achievedRps: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export async function constantRate(origin: string, path: () => string, rate: number, seconds: number, connections = 64): Promise<RateResult> {
  const [result] = await constantRateInterleaved([origin], path, rate, seconds, Infinity, connections);
  return result!;
}

/**
 * The same constant rate sent to several targets in turn, `sliceMs` each, over one run: a
 * burst of noise on a shared machine (seconds long, here) then falls on every target alike
 * instead of on whichever was measured at the time. Each target keeps its own warm pool.
 */
export async function constantRateInterleaved(origins: string[], path: () => string, rate: number, seconds: number, sliceMs: number, connections = 64): Promise<RateResult[]> {
  const pools = origins.map((o) => new Pool(o, { connections, pipelining: 1 }));
  const total = Math.round(rate * seconds);
  // Latencies go into arrays allocated up front, and each request is a handler object with no
  // promise: the generator's own garbage otherwise grows its old space until a full collection
  // (10-15 ms here, with marking threads on the same core) stalls the sending every ~9 s, and the
  // stall counts as latency of whichever target's turn it was.
  const latencies = origins.map(() => new Float64Array(total));
  const counts = origins.map(() => ({ sent: 0, ok: 0, errors: 0 }));
  let done = 0;
  let sent = 0;
  const start = performance.now() + 20;
  const interval = 1000 / rate;
  let resolveAll: () => void = () => {};
  const finished = new Promise<void>((resolve) => (resolveAll = resolve));

  const finish = (t: number, due: number, ok: boolean) => {
    const c = counts[t]!;
    latencies[t]![c.ok + c.errors] = performance.now() - due;
    if (ok) c.ok++;
    else c.errors++;
    if (++done === total) resolveAll();
  };
  const send = (t: number, due: number) => {
    let status = 0;
    let settled = false;
    const handler: Dispatcher.DispatchHandler = {
      onConnect() {},
      onHeaders(statusCode) {
        status = statusCode;
        return true;
      },
      onData() {
        return true;
      },
      onComplete() {
        if (settled) return;
        settled = true;
        finish(t, due, status < 400);
      },
      onError() {
        if (settled) return;
        settled = true;
        finish(t, due, false);
      },
    };
    pools[t]!.dispatch({ path: path(), method: 'GET' }, handler);
  };

  const tick = () => {
    const now = performance.now();
    // send everything that is due by now
    while (sent < total && start + sent * interval <= now) {
      const due = start + sent * interval;
      const t = Number.isFinite(sliceMs) ? Math.floor((due - start) / sliceMs) % origins.length : 0;
      sent++;
      counts[t]!.sent++;
      send(t, due);
    }
    // a 1 ms timer, not setImmediate: busy polling would take a core from the processes measured
    if (sent < total) setTimeout(tick, 1);
  };
  tick();
  await finished;
  const elapsed = (performance.now() - start) / 1000;
  await Promise.all(pools.map((p) => p.close()));
  return origins.map((_, t) => {
    const c = counts[t]!;
    const sorted = latencies[t]!.subarray(0, c.ok + c.errors).sort();
    return {
      ...c,
      achievedRps: (c.sent / elapsed) * origins.length,
      p50: percentile(sorted, 0.5),
      p90: percentile(sorted, 0.9),
      p99: percentile(sorted, 0.99),
      p999: percentile(sorted, 0.999),
      max: sorted[sorted.length - 1] ?? NaN,
    };
  });
}
