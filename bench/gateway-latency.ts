/**
 * The latency a proxy adds at a constant 5,000 req/s (`npm run bench -- gateway --latency`, and
 * the last part of the whole run): the upstream reached directly, nginx, the bare undici
 * forwarder and Ficus in turns, half a second each, through one run.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { freePort } from '../scripts/lib/local-services.js';
import { constantRateInterleaved, type RateResult } from './lib/constant-rate.js';
import { cpuTimes, stealSince } from './lib/cpu-steal.js';
import { benchRules, gatewayFlags, nginxProxy } from './lib/gateway-scene.js';
import { asImageRuns } from './lib/image-flags.js';
import { startProcess, stopAll, waitForPort } from './lib/processes.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const TSX = ['--import', 'tsx'];

export const RATE = 5_000;

/** Full collections in this process (the load generator): each stalls the sending. */
function watchMajorGcs(): { stop: () => { count: number; longestMs: number } } {
  let count = 0;
  let longestMs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (((e as PerformanceEntry & { detail?: { kind?: number } }).detail)?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
      count++;
      longestMs = Math.max(longestMs, e.duration);
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop: () => {
      observer.disconnect();
      return { count, longestMs };
    },
  };
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return os.cpus().length >= 2;
  } catch {
    return false;
  }
}

/**
 * The latency a proxy adds at a constant 5,000 req/s. Three busy processes on two cores make
 * the OS scheduler, not the proxy, decide the tail; so, where taskset exists, the proxy under
 * test gets the last core to itself while the load generator (this process) and the upstream
 * share core 0, for the direct and the proxied runs alike. The targets take turns every half
 * second through one run (constantRateInterleaved), so that the machine's bursts of noise,
 * seconds long here, fall on all of them alike; nginx beside them shows what a native proxy
 * adds on the same machine.
 */
export async function addedLatency(dir: string, seconds: number, pinning = true) {
  const pinned = pinning && hasTaskset();
  const last = String(os.cpus().length - 1);
  const pin = (core: string, cmd: string, args: string[]): [string, string[]] => (pinned ? ['taskset', ['-c', core, cmd, ...args]] : [cmd, args]);
  const [upPort, ficusPort, barePort, nginxPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const upstream = `http://127.0.0.1:${upPort}`;
  startProcess(...pin('0', process.execPath, [...TSX, path.join(ROOT, 'bench/peers/upstream.ts')]), { PORT: String(upPort) });
  const rulesDir = path.join(dir, 'latency-rules');
  mkdirSync(rulesDir, { recursive: true });
  writeFileSync(path.join(rulesDir, '00-upstreams.yaml'), `upstreams:\n  legacy: { url: "${upstream}" }\n  patient-service: { url: "${upstream}" }\n`);
  writeFileSync(path.join(rulesDir, '10-http.yaml'), benchRules());
  startProcess(...pin(last, process.execPath, asImageRuns('gateway/dist/main.js')), {
    FICUS_GATEWAY_HOST: '127.0.0.1',
    FICUS_GATEWAY_PORT: String(ficusPort),
    FICUS_RULES_DIR: rulesDir,
  });
  // the other Node proxy on the same core runs with the same flags: an idle process's memory
  // reducer (a full collection on its helper threads) would take the core from the one measured
  startProcess(...pin(last, process.execPath, [...gatewayFlags(), ...TSX, path.join(ROOT, 'bench/peers/undici-bare.ts')]), { PORT: String(barePort), TARGET: upstream });
  await nginxProxy(path.join(dir, 'latency-nginx'), nginxPort!, upstream, pinned ? last : undefined);
  await Promise.all([upPort, ficusPort, barePort].map((p) => waitForPort(p!)));
  if (pinned) execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  try {
    const targets = { direct: upstream, nginx: `http://127.0.0.1:${nginxPort}`, bare: `http://127.0.0.1:${barePort}`, ficus: `http://127.0.0.1:${ficusPort}` };
    const names = Object.keys(targets) as (keyof typeof targets)[];
    const mrn = () => `/api/patients/${100_000 + Math.floor(Math.random() * 100_000)}`;
    await constantRateInterleaved(Object.values(targets), mrn, RATE, Math.min(8, seconds), 500);
    const before = cpuTimes();
    const gcs = watchMajorGcs();
    const results = await constantRateInterleaved(Object.values(targets), mrn, RATE, seconds * names.length, 500);
    const steal = stealSince(before);
    const loadGc = gcs.stop();
    console.error(`[bench] CPU time taken by the hypervisor (steal) during the run: ${steal.toFixed(1)} %`);
    console.error(`[bench] the load generator's own full collections during the run: ${loadGc.count} (longest ${loadGc.longestMs.toFixed(1)} ms)`);
    const by = Object.fromEntries(names.map((n, i) => [n, results[i]!])) as Record<keyof typeof targets, RateResult>;
    for (const n of names) {
      const r = by[n];
      console.error(`[bench] ${RATE} req/s, in turns: ${n.padEnd(6)} p50 ${r.p50.toFixed(2)} p90 ${r.p90.toFixed(2)} p99 ${r.p99.toFixed(2)} p99.9 ${r.p999.toFixed(2)} ms (${r.sent} requests)`);
    }
    return {
      pinned,
      p99Direct: by.direct.p99,
      p99Nginx: by.nginx.p99,
      p99Bare: by.bare.p99,
      p99Ficus: by.ficus.p99,
      rateErrors: results.reduce((s, r) => s + r.errors, 0),
      steal,
    };
  } finally {
    if (pinned) execFileSync('taskset', ['-a', '-p', '-c', `0-${last}`, String(process.pid)], { stdio: 'ignore' });
    await stopAll();
  }
}

/**
 * The latency run in a process of its own, started as this one was: the load generator then
 * begins with a fresh heap, as in `--latency`, whatever the earlier phases left in this one.
 */
export async function addedLatencyInFreshProcess(args: string[]): Promise<Awaited<ReturnType<typeof addedLatency>>> {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'gateway', '--latency', ...args.filter((a) => a === '--quick' || a === '--no-pin')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const last = out.trim().split('\n').at(-1) ?? '';
  if (code !== 0 || !last.startsWith('{')) throw new Error(`the latency run failed (exit ${code}): ${out.slice(-500)}`);
  const r = JSON.parse(last) as Record<string, number | boolean>;
  return {
    pinned: r.latency_cpu_pinning as boolean,
    p99Direct: r.p99_direct_ms_at_5k as number,
    p99Nginx: r.p99_nginx_ms_at_5k as number,
    p99Bare: r.p99_undici_bare_ms_at_5k as number,
    p99Ficus: r.p99_ficus_ms_at_5k as number,
    rateErrors: (r.errors as number | undefined) ?? 0,
    steal: r.latency_cpu_steal_percent as number,
  };
}
