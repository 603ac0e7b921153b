/**
 * Prometheus metrics. prom-client owns the registry and the exposition format; the per-request
 * figures (request count by status, latency histogram) are kept in plain typed arrays on the
 * hot path and handed to prom-client only when /metrics is scraped. A prom-client histogram
 * observed per request costs about 12 µs here (label hashing, bucket search); this costs well
 * under one.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client';
import { CIRCUIT_STATE_VALUE } from '../upstreams/circuit-breaker.js';
import type { UpstreamRegistry } from '../upstreams/registry.js';

export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Counts for one (rule, target, fallback) combination. */
export class RouteStats {
  readonly byStatus = new Map<number, number>();
  /** non-cumulative counts per bucket; the last slot is +Inf */
  readonly buckets = new Float64Array(LATENCY_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  constructor(
    readonly rule: string,
    readonly target: string,
    readonly fallback: boolean,
  ) {}

  record(status: number, seconds: number): void {
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]!) i++;
    this.buckets[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

type Values = MetricValueWithName<string>[];

/** A metric whose values are computed at scrape time (prom-client calls get()). */
class ScrapedMetric {
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram' | 'gauge',
    private readonly values: () => Values,
  ) {}
  get(): Promise<Omit<MetricObjectWithValues<MetricValueWithName<string>>, 'collect' | 'type'> & { type: string }> {
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: 'sum', values: this.values() });
  }
  reset(): void {}
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly routes = new Map<string, RouteStats>();
  /** the gateway's own refusals, before any rule (proxy/refusals.ts) */
  readonly refusals: RouteStats;
  readonly fallbacks: Counter<'rule' | 'reason'>;
  readonly readsAfterWrite: Counter<'rule'>;
  readonly queueTimeouts: Counter<'upstream'>;
  readonly upstreamRetries: Counter<'upstream' | 'reason'>;
  readonly answersCut: Counter<'rule' | 'upstream' | 'reason'>;
  readonly ruleReloads: Counter<'result'>;
  readonly rulesLoadedAt: Gauge;
  readonly rulesCount: Gauge;
  readonly inflight: Gauge;
  readonly rulesVersion: Gauge;
  readonly ruleStoreUp: Gauge;
  readonly emergencyOverride: Gauge<'rule'>;
  readonly rulesPropagation: Gauge;
  private inflightCount = 0;

  constructor(upstreams: () => UpstreamRegistry | undefined) {
    collectDefaultMetrics({ register: this.registry, prefix: 'ficus_gateway_' });
    this.refusals = this.route('-', '-', false);
    const reg = [this.registry];
    this.registry.registerMetric(
      new ScrapedMetric('ficus_http_requests_total', 'Requests answered, by rule, target upstream and status code', 'counter', () => this.requestValues()) as never,
    );
    this.registry.registerMetric(
      new ScrapedMetric('ficus_http_request_duration_seconds', 'Time from request to the end of the response, by rule and target', 'histogram', () =>
        this.latencyValues(),
      ) as never,
    );
    this.fallbacks = new Counter({ name: 'ficus_fallbacks_total', help: 'Safe requests answered by legacy because the new service failed', labelNames: ['rule', 'reason'], registers: reg });
    this.readsAfterWrite = new Counter({ name: 'ficus_reads_after_write_total', help: 'Safe requests the rule sends to the new service, answered by legacy because the same path was just written through legacy', labelNames: ['rule'], registers: reg });
    this.queueTimeouts = new Counter({ name: 'ficus_upstream_queue_timeouts_total', help: 'Requests that found every pooled connection of the upstream busy for its timeouts.queueMs (503 upstream-busy, or a fallback)', labelNames: ['upstream'], registers: reg });
    this.upstreamRetries = new Counter({ name: 'ficus_upstream_retries_total', help: 'Requests sent once more on a new connection: idempotent ones whose reused keep-alive connection the upstream closed (reused-connection-closed) or reset (reused-connection-reset) before any byte of an answer, and any whose reused connection was lost before a byte of them was written (reused-connection-lost-unsent)', labelNames: ['upstream', 'reason'], registers: reg });
    this.answersCut = new Counter({ name: 'ficus_answers_cut_total', help: "Answers whose head had gone to the client when the upstream failed (reset, closed or stalled mid-body): the client's connection was cut, never ended as if whole", labelNames: ['rule', 'upstream', 'reason'], registers: reg });
    this.ruleReloads = new Counter({ name: 'ficus_rule_reloads_total', help: 'Rule reloads, by result (applied, refused)', labelNames: ['result'], registers: reg });
    this.rulesLoadedAt = new Gauge({ name: 'ficus_rules_loaded_timestamp_seconds', help: 'When the rules now serving were loaded', registers: reg });
    this.rulesCount = new Gauge({ name: 'ficus_rules', help: 'HTTP rules now serving', registers: reg });
    this.rulesVersion = new Gauge({ name: 'ficus_rules_version', help: 'Version of the rule set now serving (rule store)', registers: reg });
    this.ruleStoreUp = new Gauge({ name: 'ficus_rule_store_up', help: 'Rule store reachable at the last check: 1 yes, 0 no (serving the last good rules)', registers: reg });
    this.emergencyOverride = new Gauge({ name: 'ficus_emergency_override', help: "1 for each rule this instance's emergency override file holds in legacy, whatever the rule store serves", labelNames: ['rule'], registers: reg });
    this.rulesPropagation = new Gauge({ name: 'ficus_rules_propagation_seconds', help: 'From the commit of the rule version now serving to its use here', registers: reg });
    const inflightNow = () => this.inflightCount;
    this.inflight = new Gauge({
      name: 'ficus_http_inflight_requests',
      help: 'Requests being proxied now',
      registers: reg,
      collect() {
        this.set(inflightNow());
      },
    });
    new Gauge({
      name: 'ficus_circuit_state',
      help: 'Circuit breaker per upstream: 0 closed, 1 half-open, 2 open',
      labelNames: ['upstream'],
      registers: reg,
      collect() {
        this.reset();
        for (const u of upstreams()?.all() ?? []) this.set({ upstream: u.name }, CIRCUIT_STATE_VALUE[u.breaker.current]);
      },
    });
    new Gauge({
      name: 'ficus_upstream_healthy',
      help: 'Active health check per upstream: 1 healthy, 0 unhealthy, -1 unknown or disabled',
      labelNames: ['upstream'],
      registers: reg,
      collect() {
        this.reset();
        for (const u of upstreams()?.all() ?? []) this.set({ upstream: u.name }, u.health.health === 'healthy' ? 1 : u.health.health === 'unhealthy' ? 0 : -1);
      },
    });
    new Gauge({
      name: 'ficus_upstream_connections',
      help: "Upstream connection pool, by state (connected, free, running, pending; queued: waiting in the gateway's own queue for a connection)",
      labelNames: ['upstream', 'state'],
      registers: reg,
      collect() {
        this.reset();
        for (const u of upstreams()?.all() ?? []) {
          const s = u.pool.stats;
          this.set({ upstream: u.name, state: 'connected' }, s.connected);
          this.set({ upstream: u.name, state: 'free' }, s.free);
          this.set({ upstream: u.name, state: 'running' }, s.running);
          this.set({ upstream: u.name, state: 'pending' }, s.pending);
          this.set({ upstream: u.name, state: 'queued' }, u.gate.waiting);
        }
      },
    });
  }

  /** The stats object for one combination; callers keep it, so the hot path does no lookup. */
  route(rule: string, target: string, fallback: boolean): RouteStats {
    const key = `${rule}\u0000${target}\u0000${fallback ? 1 : 0}`;
    let s = this.routes.get(key);
    if (!s) {
      s = new RouteStats(rule, target, fallback);
      this.routes.set(key, s);
    }
    return s;
  }

  /** Every stats object (read about once a second for the traffic figures). */
  allRoutes(): IterableIterator<RouteStats> {
    return this.routes.values();
  }

  /** The shadow figures of this instance, read at scrape time. */
  addShadowMetrics(recorder: { compared: Map<string, Map<string, number>>; skips: Map<string, Map<string, number>> }, inflight: () => Map<string, number>): void {
    const flat = (name: string, map: Map<string, Map<string, number>>, label: string): Values =>
      [...map].flatMap(([rule, m]) => [...m].map(([k, value]) => ({ metricName: name, value, labels: { rule, [label]: k } })));
    this.registry.registerMetric(
      new ScrapedMetric('ficus_shadow_compared_total', 'Shadowed requests compared, by rule and result (match, mismatch)', 'counter', () => flat('ficus_shadow_compared_total', recorder.compared, 'result')) as never,
    );
    this.registry.registerMetric(
      new ScrapedMetric('ficus_shadow_skipped_total', 'Requests of shadow rules not compared, by rule and reason (busy, pool-busy, preempted, write-not-shadowed, after-write, circuit-open, no-target, legacy-failed, client-gone, request-too-large)', 'counter', () =>
        flat('ficus_shadow_skipped_total', recorder.skips, 'reason'),
      ) as never,
    );
    new Gauge({
      name: 'ficus_shadow_inflight',
      help: 'Shadow requests in flight, by rule',
      labelNames: ['rule'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [rule, n] of inflight()) this.set({ rule }, n);
      },
    });
  }

  started(): void {
    this.inflightCount++;
  }

  finished(): void {
    this.inflightCount--;
  }

  private requestValues(): Values {
    const out: Values = [];
    for (const s of this.routes.values()) {
      for (const [code, value] of s.byStatus) {
        out.push({ metricName: 'ficus_http_requests_total', value, labels: { rule: s.rule, target: s.target, fallback: String(s.fallback), code } });
      }
    }
    return out;
  }

  private latencyValues(): Values {
    const out: Values = [];
    const name = 'ficus_http_request_duration_seconds';
    for (const s of this.routes.values()) {
      if (s.count === 0) continue;
      const labels = { rule: s.rule, target: s.target, fallback: String(s.fallback) };
      let cumulative = 0;
      LATENCY_BUCKETS.forEach((le, i) => {
        cumulative += s.buckets[i]!;
        out.push({ metricName: `${name}_bucket`, value: cumulative, labels: { ...labels, le } });
      });
      out.push({ metricName: `${name}_bucket`, value: s.count, labels: { ...labels, le: '+Inf' } });
      out.push({ metricName: `${name}_sum`, value: s.sum, labels });
      out.push({ metricName: `${name}_count`, value: s.count, labels });
    }
    return out;
  }
}
