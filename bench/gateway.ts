/**
 * `npm run bench -- gateway`: the Ficus gateway beside its peers, in one run.
 *
 * Peers: nginx (Debian package, one worker) as reverse proxy, a bare http-proxy, fastify with
 * @fastify/reply-from, and (for reference) a bare undici Pool forwarder with nothing else. All
 * forward to one upstream; Ficus runs with a realistic rule set (50+ rules, the hit rule a
 * sticky canary at 50 %, metrics on, default logging). wrk: 1 thread, 50 keep-alive
 * connections, every request for another patient. Each target gets a warm-up, then is
 * measured in alternation with the others, several rounds; medians are reported.
 *
 * Two upstreams, one after the other: a Node http server (the headline: the legacy API and the
 * new services are Node services, and it is how the targets in the issue were measured) and
 * nginx answering from memory (a native upstream that leaves the proxies all the CPU).
 * Then the latency Ficus adds at a constant 5,000 req/s, beside the upstream reached directly.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../scripts/lib/local-services.js';
import { addedLatency, addedLatencyInFreshProcess, RATE } from './gateway-latency.js';
import { benchRules, gatewayFlags, nginxProxy } from './lib/gateway-scene.js';
import { asImageRuns } from './lib/image-flags.js';
import { machineFacts } from './lib/loopback-probe.js';
import { startNginx } from './lib/nginx.js';
import { treeCpuMicros } from './lib/process-cpu.js';
import { startProcess, stopAll, waitForPort } from './lib/processes.js';
import { ensureTools } from '../scripts/lib/system-tools.js';
import { wrk, writeMrnScript, type WrkResult } from './lib/wrk.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const TSX = ['--import', 'tsx'];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface Target {
  name: string;
  url: string;
  /** the proxy's process (its CPU per request is counted); none for the upstream reached directly */
  pid?: number;
}

interface Summary {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  /** CPU the proxy used per request, µs (NaN for the upstream reached directly) */
  cpuUs: number;
  errors: number;
}

/** Starts every proxy in front of `upstream`; returns the targets to measure. */
async function startProxies(dir: string, upstream: string): Promise<Target[]> {
  const [nginxPort, hpPort, rfPort, unPort, ficusPort] = await Promise.all(Array.from({ length: 5 }, () => freePort()));
  const nginx = await nginxProxy(path.join(dir, 'nginx-proxy'), nginxPort!, upstream);
  const httpProxy = startProcess(process.execPath, [...TSX, path.join(ROOT, 'bench/peers/http-proxy.ts')], { PORT: String(hpPort), TARGET: upstream });
  const replyFrom = startProcess(process.execPath, [...TSX, path.join(ROOT, 'bench/peers/reply-from.ts')], { PORT: String(rfPort), TARGET: upstream });
  const bare = startProcess(process.execPath, [...gatewayFlags(), ...TSX, path.join(ROOT, 'bench/peers/undici-bare.ts')], { PORT: String(unPort), TARGET: upstream });
  const rulesDir = path.join(dir, 'rules');
  mkdirSync(rulesDir, { recursive: true });
  writeFileSync(path.join(rulesDir, '00-upstreams.yaml'), `upstreams:\n  legacy: { url: "${upstream}" }\n  patient-service: { url: "${upstream}" }\n`);
  writeFileSync(path.join(rulesDir, '10-http.yaml'), benchRules());
  // the gateway as its image runs it: compiled, with the same Node flags as the Dockerfile
  const gateway = startProcess(process.execPath, asImageRuns('gateway/dist/main.js'), {
    FICUS_GATEWAY_HOST: '127.0.0.1',
    FICUS_GATEWAY_PORT: String(ficusPort),
    FICUS_RULES_DIR: rulesDir,
  });
  await Promise.all([hpPort, rfPort, unPort, ficusPort].map((p) => waitForPort(p!)));
  const ficus = `http://127.0.0.1:${ficusPort}`;
  const check = await fetch(ficus + '/api/patients/100042');
  await check.arrayBuffer();
  if (check.status !== 200 || !check.headers.get('x-ficus-route')?.startsWith('patients-read;')) {
    throw new Error(`the Ficus gateway did not route the benchmark request as expected (${check.status} ${check.headers.get('x-ficus-route')})`);
  }
  return [
    { name: 'direct to upstream', url: upstream },
    { name: 'nginx (1 worker)', url: `http://127.0.0.1:${nginxPort}`, pid: nginx },
    { name: 'http-proxy', url: `http://127.0.0.1:${hpPort}`, pid: httpProxy.pid },
    { name: '@fastify/reply-from', url: `http://127.0.0.1:${rfPort}`, pid: replyFrom.pid },
    { name: 'undici Pool, bare', url: `http://127.0.0.1:${unPort}`, pid: bare.pid },
    { name: 'Ficus gateway', url: ficus, pid: gateway.pid },
  ];
}

async function measure(label: string, targets: Target[], script: string, seconds: number, warmup: number, rounds: number): Promise<Summary[]> {
  for (const t of targets) await wrk(t.url, { seconds: warmup, connections: 50, script });
  const results = new Map<string, (WrkResult & { cpuUs: number })[]>(targets.map((t) => [t.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const t of targets) {
      const cpuBefore = t.pid === undefined ? NaN : treeCpuMicros(t.pid);
      const r = await wrk(t.url, { seconds, connections: 50, script });
      const cpuUs = (treeCpuMicros(t.pid ?? NaN) - cpuBefore) / r.requests;
      results.get(t.name)!.push({ ...r, cpuUs });
      const errs = r.errors || r.non2xx ? `  errors ${r.errors} non-2xx ${r.non2xx}` : '';
      const cpu = Number.isFinite(cpuUs) ? `  CPU ${cpuUs.toFixed(1)} µs/req` : '';
      console.error(`[bench] ${label} round ${round + 1} ${t.name.padEnd(22)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50ms.toFixed(2)} ms  p99 ${r.p99ms.toFixed(2)} ms${cpu}${errs}`);
    }
  }
  return targets.map((t) => {
    const rs = results.get(t.name)!;
    return {
      name: t.name,
      rps: median(rs.map((r) => r.rps)),
      p50: median(rs.map((r) => r.p50ms)),
      p99: median(rs.map((r) => r.p99ms)),
      cpuUs: median(rs.map((r) => r.cpuUs)),
      errors: rs.reduce((s, r) => s + r.errors + r.non2xx, 0),
    };
  });
}

function table(title: string, summary: Summary[]): void {
  const ficus = summary.find((s) => s.name === 'Ficus gateway')!.rps;
  console.log(`\n${title}\n`);
  console.log('| target | req/s (median) | p50 ms | p99 ms | proxy CPU µs/req | Ficus ÷ target |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const s of summary) {
    const cpu = Number.isFinite(s.cpuUs) ? s.cpuUs.toFixed(1) : '-';
    console.log(`| ${s.name} | ${s.rps.toFixed(0)} | ${s.p50.toFixed(2)} | ${s.p99.toFixed(2)} | ${cpu} | ${(ficus / s.rps).toFixed(2)} |${s.errors ? ` errors: ${s.errors}` : ''}`);
  }
}

function ratios(summary: Summary[]) {
  const by = (name: string) => summary.find((s) => s.name === name)!;
  const ficus = by('Ficus gateway').rps;
  const bestNode = Math.max(by('http-proxy').rps, by('@fastify/reply-from').rps);
  const nginx = by('nginx (1 worker)').rps;
  return { ficus, bestNode, nginx, vsBest: ficus / bestNode, vsNginx: ficus / nginx, by };
}

/** CPU per request of each proxy, µs, for the JSON line */
function cpuPerRequest(summary: Summary[]) {
  const us = (name: string) => Number(summary.find((s) => s.name === name)!.cpuUs.toFixed(1));
  return { ficus: us('Ficus gateway'), undici_bare: us('undici Pool, bare'), nginx: us('nginx (1 worker)'), http_proxy: us('http-proxy'), reply_from: us('@fastify/reply-from') };
}

export async function benchGateway(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const seconds = quick ? 4 : 10;
  const warmup = quick ? 2 : 3;
  const rounds = quick ? 2 : 3;
  const machine = await machineFacts();
  const installed = ensureTools({ wrk: 'wrk', nginx: 'nginx-light' }, (l) => console.error(`[bench] ${l}`));
  // Debian starts the packaged nginx on port 80; the benchmark runs its own
  if (installed.some((p) => p.startsWith('nginx'))) {
    try {
      execFileSync('nginx', ['-s', 'stop'], { stdio: 'ignore' });
    } catch {
      /* was not running */
    }
  }
  console.error('[bench] compiling the gateway (tsc -b gateway/tsconfig.build.json)');
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', path.join(ROOT, 'gateway/tsconfig.build.json')], { stdio: 'inherit' });

  const dir = path.join(ROOT, 'bench', 'results', `gateway-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const script = writeMrnScript(dir);
  console.error(`[bench] ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), Node ${process.version}; ${rounds} rounds of ${seconds}s per target`);

  if (args.includes('--latency')) {
    // the added latency alone (a few minutes less than the whole run)
    const r = await addedLatency(dir, quick ? 8 : 30, !args.includes('--no-pin'));
    console.log(`At a constant ${RATE} req/s: p99 direct ${r.p99Direct.toFixed(2)} ms, Ficus ${r.p99Ficus.toFixed(2)}, bare undici ${r.p99Bare.toFixed(2)}, nginx ${r.p99Nginx.toFixed(2)}; steal ${r.steal.toFixed(1)} %`);
    console.log(
      JSON.stringify({
        bench: 'gateway-latency',
        p99_added_ms: Number(Math.max(0, r.p99Ficus - r.p99Direct).toFixed(2)),
        p99_direct_ms_at_5k: Number(r.p99Direct.toFixed(2)),
        p99_ficus_ms_at_5k: Number(r.p99Ficus.toFixed(2)),
        p99_undici_bare_ms_at_5k: Number(r.p99Bare.toFixed(2)),
        p99_nginx_ms_at_5k: Number(r.p99Nginx.toFixed(2)),
        latency_cpu_pinning: r.pinned,
        latency_cpu_steal_percent: Number(r.steal.toFixed(1)),
        errors: r.rateErrors,
        ...machine,
      }),
    );
    return;
  }

  try {
    // 1. Node upstream (the headline)
    const nodePort = await freePort();
    startProcess(process.execPath, [...TSX, path.join(ROOT, 'bench/peers/upstream.ts')], { PORT: String(nodePort) });
    await waitForPort(nodePort);
    const nodeUpstream = `http://127.0.0.1:${nodePort}`;
    const nodeTargets = await startProxies(path.join(dir, 'node-upstream'), nodeUpstream);
    const nodeSummary = await measure('node upstream', nodeTargets, script, seconds, warmup, rounds);

    await stopAll();
    const rate = await addedLatencyInFreshProcess(args);

    // 2. native upstream
    const nginxUpPort = await freePort();
    await startNginx(path.join(dir, 'nginx-upstream'), nginxUpPort, `location / { default_type application/json; return 200 '{"mrn":"100042","lastName":"SYNTHETIC","firstName":"PATIENT","middleName":"Q","dateOfBirth":"1961-07-14","sex":"F","address":{"line1":"12 HARBOUR ROAD","city":"SPRINGFIELD","state":"OR","zip":"97403"},"phone":"555-0142","maritalStatus":"M","active":true,"lastUpdated":"2024-03-02T10:15:00.000Z"}'; }`);
    const nativeTargets = await startProxies(path.join(dir, 'native-upstream'), `http://127.0.0.1:${nginxUpPort}`);
    const nativeSummary = await measure('native upstream', nativeTargets, script, seconds, warmup, rounds);

    table('Upstream: a Node http server (headline)', nodeSummary);
    table('Upstream: nginx answering from memory (native; the proxies get all the CPU)', nativeSummary);
    const a = ratios(nodeSummary);
    const b = ratios(nativeSummary);
    const { p99Direct, p99Ficus, p99Bare, p99Nginx, rateErrors } = rate;
    const p99Added = Math.max(0, p99Ficus - p99Direct);
    console.log('');
    console.log(`Ficus ÷ best Node peer: ${a.vsBest.toFixed(2)} (target >= 1.25); native upstream: ${b.vsBest.toFixed(2)}`);
    console.log(`Ficus ÷ nginx:          ${a.vsNginx.toFixed(2)} (target >= 0.5); native upstream: ${b.vsNginx.toFixed(2)}`);
    const cpu = cpuPerRequest(nodeSummary);
    console.log(`Proxy CPU per request:  Ficus ${cpu.ficus} µs, bare undici ${cpu.undici_bare}, nginx ${cpu.nginx}, http-proxy ${cpu.http_proxy}, reply-from ${cpu.reply_from}`);
    console.log(
      `At a constant ${RATE} req/s: p99 direct ${p99Direct.toFixed(2)} ms, through Ficus ${p99Ficus.toFixed(2)} ms: added ${p99Added.toFixed(2)} ms (target <= 2);` +
        ` through the bare undici forwarder ${p99Bare.toFixed(2)} ms (added ${Math.max(0, p99Bare - p99Direct).toFixed(2)}), through nginx ${p99Nginx.toFixed(2)} ms (added ${Math.max(0, p99Nginx - p99Direct).toFixed(2)})${rate.pinned ? '' : ' [not pinned: taskset missing]'}${rateErrors ? `; errors ${rateErrors}` : ''}`,
    );
    console.log(
      JSON.stringify({
        bench: 'gateway',
        upstream: 'node',
        ficus_rps: Math.round(a.ficus),
        best_node_rps: Math.round(a.bestNode),
        nginx_rps: Math.round(a.nginx),
        ficus_vs_best_node: Number(a.vsBest.toFixed(3)),
        ficus_vs_nginx: Number(a.vsNginx.toFixed(3)),
        p99_added_ms: Number(p99Added.toFixed(2)),
        p99_direct_ms_at_5k: Number(p99Direct.toFixed(2)),
        p99_ficus_ms_at_5k: Number(p99Ficus.toFixed(2)),
        p99_undici_bare_ms_at_5k: Number(p99Bare.toFixed(2)),
        p99_nginx_ms_at_5k: Number(p99Nginx.toFixed(2)),
        latency_cpu_pinning: rate.pinned,
        latency_cpu_steal_percent: Number(rate.steal.toFixed(1)),
        http_proxy_rps: Math.round(a.by('http-proxy').rps),
        reply_from_rps: Math.round(a.by('@fastify/reply-from').rps),
        undici_bare_rps: Math.round(a.by('undici Pool, bare').rps),
        direct_rps: Math.round(a.by('direct to upstream').rps),
        cpu_us_per_request: cpuPerRequest(nodeSummary),
        native_upstream: {
          ficus_rps: Math.round(b.ficus),
          best_node_rps: Math.round(b.bestNode),
          nginx_rps: Math.round(b.nginx),
          ficus_vs_best_node: Number(b.vsBest.toFixed(3)),
          ficus_vs_nginx: Number(b.vsNginx.toFixed(3)),
          cpu_us_per_request: cpuPerRequest(nativeSummary),
        },
        errors: [...nodeSummary, ...nativeSummary].reduce((s, r) => s + r.errors, 0) + rateErrors,
        ...machine,
      }),
    );
  } finally {
    await stopAll();
  }
}
