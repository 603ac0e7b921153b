/**
 * `npm run bench -- metrics`: the cost of recording one request's latency and status, the
 * prom-client way (a labelled Histogram and Counter per request) beside the gateway's way
 * (plain counters on the hot path, handed to prom-client at scrape time). Same inputs, one run.
 */
import { performance } from 'node:perf_hooks';
import { Counter, Histogram, Registry } from 'prom-client';
import { GatewayMetrics, LATENCY_BUCKETS } from '../gateway/src/ops/metrics.js';

const N = 1_000_000;
const rules = ['patients-read', 'patients-search', 'encounters-read', 'results-read', 'legacy-default'];
const targets = ['legacy', 'patient-service'];
const statuses = [200, 200, 200, 304, 404];
const latency = Array.from({ length: 1024 }, (_, i) => 0.0004 + (i % 97) * 0.00013);

function time(label: string, fn: (i: number) => void): number {
  for (let i = 0; i < N / 10; i++) fn(i); // warm-up
  const start = performance.now();
  for (let i = 0; i < N; i++) fn(i);
  const ns = ((performance.now() - start) * 1e6) / N;
  console.error(`[bench] ${label.padEnd(46)} ${ns.toFixed(0).padStart(6)} ns per request`);
  return ns;
}

export async function benchMetrics(): Promise<void> {
  const registry = new Registry();
  const hist = new Histogram({ name: 'h', help: 'h', labelNames: ['rule', 'target', 'fallback'], buckets: LATENCY_BUCKETS, registers: [registry] });
  const count = new Counter({ name: 'c', help: 'c', labelNames: ['rule', 'target', 'fallback', 'code'], registers: [registry] });
  const promClient = time('prom-client Histogram + Counter, labels per call', (i) => {
    const labels = { rule: rules[i % 5]!, target: targets[i % 2]!, fallback: 'false' };
    hist.observe(labels, latency[i & 1023]!);
    count.inc({ ...labels, code: statuses[i % 5]! });
  });

  const children = new Map<string, { h: ReturnType<typeof hist.labels> }>();
  const promClientCached = time('prom-client with cached label children', (i) => {
    const key = `${i % 5}:${i % 2}`;
    let c = children.get(key);
    if (!c) children.set(key, (c = { h: hist.labels(rules[i % 5]!, targets[i % 2]!, 'false') }));
    c.h.observe(latency[i & 1023]!);
    count.inc({ rule: rules[i % 5]!, target: targets[i % 2]!, fallback: 'false', code: statuses[i % 5]! });
  });

  const metrics = new GatewayMetrics(() => undefined);
  const stats = rules.flatMap((r) => targets.map((t) => metrics.route(r, t, false)));
  const ficus = time('Ficus RouteStats.record (scraped later)', (i) => {
    stats[(i % 5) * 2 + (i % 2)]!.record(statuses[i % 5]!, latency[i & 1023]!);
  });

  // the scrape must still show what was recorded
  const text = await metrics.registry.metrics();
  if (!text.includes('ficus_http_request_duration_seconds_bucket{rule="patients-read"')) throw new Error('scrape lost the histogram');

  console.log('');
  console.log('| way | ns per request | vs Ficus |');
  console.log('|---|---:|---:|');
  console.log(`| prom-client, labels per call | ${promClient.toFixed(0)} | ${(promClient / ficus).toFixed(0)}x |`);
  console.log(`| prom-client, cached histogram children | ${promClientCached.toFixed(0)} | ${(promClientCached / ficus).toFixed(0)}x |`);
  console.log(`| Ficus hot-path counters | ${ficus.toFixed(0)} | 1x |`);
  console.log(JSON.stringify({ bench: 'metrics', prom_client_ns: Math.round(promClient), prom_client_cached_ns: Math.round(promClientCached), ficus_ns: Math.round(ficus), speedup: Number((promClient / ficus).toFixed(1)) }));
}
