/**
 * Prometheus metrics of the CDC deployable. Labels carry source, topic, service and outcome
 * names, never keys or values. Per-change counts are plain numbers on the hot path, handed to
 * prom-client at scrape time.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { boundedRead } from './bounded-read.js';

export interface MetricsSources {
  slotLagBytes: () => Promise<{ source: string; bytes: number | null }[]>;
  sourceStates: () => { source: string; state: string }[];
  queueDepth: () => Promise<{ topic: string; waiting: number }[]>;
  deadLetters: () => Promise<{ queue: string; count: number }[]>;
  held: () => number;
  /** per write-back service: whether its jobs wait for the legacy database */
  writebackWaiting: () => { service: string; waiting: boolean }[];
}

export class CdcMetrics {
  readonly registry = new Registry();
  /** [source, topic, op] → count */
  private readonly readCounts = new Map<string, number>();
  private readonly publishedCounts = new Map<string, number>();
  readonly lag: Histogram<'source'>;
  readonly writeback: Counter<'service' | 'topic' | 'outcome'>;
  readonly echoes: Counter<'source'>;
  readonly backPressure: Counter<'source'>;
  readonly schemaChanges: Counter<'source' | 'table' | 'outcome'>;
  readonly sourceErrors: Counter<'source'>;

  constructor(s: MetricsSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'ficus_cdc_process_' });
    const registers = [this.registry];
    // Redis reads retry for as long as Redis is away (BullMQ's connections): a scrape waits for them only so long
    const queueDepth = boundedRead(s.queueDepth);
    const deadLetters = boundedRead(s.deadLetters);
    const read = this.readCounts;
    const published = this.publishedCounts;
    new Counter({
      name: 'ficus_cdc_changes_read_total',
      help: 'Changes read from the source (snapshot rows included), by source, topic and op',
      labelNames: ['source', 'topic', 'op'],
      registers,
      collect() {
        this.reset(); // the totals are kept here; prom-client gets them at scrape time
        for (const [k, n] of read) {
          const [source, topic, op] = k.split('\u0000') as [string, string, string];
          this.labels({ source, topic, op }).inc(n);
        }
      },
    });
    new Counter({
      name: 'ficus_cdc_changes_published_total',
      help: 'Changes durably enqueued on the topics\' queues, by source and topic',
      labelNames: ['source', 'topic'],
      registers,
      collect() {
        this.reset();
        for (const [k, n] of published) {
          const [source, topic] = k.split('\u0000') as [string, string];
          this.labels({ source, topic }).inc(n);
        }
      },
    });
    this.lag = new Histogram({
      name: 'ficus_cdc_lag_seconds',
      help: 'From the source\'s commit to the change enqueued (per transaction)',
      labelNames: ['source'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    new Gauge({
      name: 'ficus_cdc_slot_lag_bytes',
      help: 'WAL the replication slot holds beyond what is acknowledged (PostgreSQL sources)',
      labelNames: ['source'],
      registers,
      async collect() {
        this.reset();
        for (const l of await s.slotLagBytes()) if (l.bytes !== null) this.set({ source: l.source }, l.bytes);
      },
    });
    new Gauge({
      name: 'ficus_cdc_source_streaming',
      help: '1 while the source streams (or takes its snapshot), 0 when stopped or in error',
      labelNames: ['source', 'state'],
      registers,
      collect() {
        this.reset();
        for (const st of s.sourceStates()) this.set({ source: st.source, state: st.state }, st.state === 'streaming' || st.state === 'snapshot' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'ficus_cdc_queue_depth',
      help: 'Jobs waiting on a topic\'s queues (all partitions)',
      labelNames: ['topic'],
      registers,
      async collect() {
        this.reset();
        // bounded: an unbounded read held the whole scrape for a Redis outage (its series are absent meanwhile)
        for (const d of (await queueDepth()) ?? []) this.set({ topic: d.topic }, d.waiting);
      },
    });
    new Gauge({
      name: 'ficus_cdc_dead_letters',
      help: 'Write-back jobs dead-lettered (refused by the legacy database, or undecodable), per queue',
      labelNames: ['queue'],
      registers,
      async collect() {
        this.reset();
        for (const d of (await deadLetters()) ?? []) this.set({ queue: d.queue }, d.count);
      },
    });
    new Gauge({
      name: 'ficus_cdc_writeback_waiting',
      help: 'Write-back waiting for the legacy database (1: not available now, its jobs wait in place; the last error is in /api/cdc/status)',
      labelNames: ['service'],
      registers,
      collect() {
        this.reset();
        for (const w of s.writebackWaiting()) this.set({ service: w.service }, w.waiting ? 1 : 0);
      },
    });
    new Gauge({ name: 'ficus_cdc_held_events', help: 'Change events in memory, read and not yet enqueued', registers, collect() { this.set(s.held()); } });
    this.writeback = new Counter({ name: 'ficus_cdc_writeback_total', help: 'Write-back events by service, topic and outcome (applied, skipped as redelivered, refused; legacy-kept: applied but for fields a legacy edit made meanwhile, kept while the legacy holds the record)', labelNames: ['service', 'topic', 'outcome'], registers });
    this.echoes = new Counter({ name: 'ficus_cdc_writeback_echo_transactions_total', help: 'Legacy transactions recognised as Ficus\'s own write-back (tagged or dropped, never fed back as legacy changes)', labelNames: ['source'], registers });
    this.backPressure = new Counter({ name: 'ficus_cdc_backpressure_total', help: 'Times the source stopped reading because too many events waited for the queues', labelNames: ['source'], registers });
    this.schemaChanges = new Counter({ name: 'ficus_cdc_schema_changes_total', help: 'Captured tables whose columns no longer match the mapping: refused (the source stops), ignored or carried', labelNames: ['source', 'table', 'outcome'], registers });
    this.sourceErrors = new Counter({ name: 'ficus_cdc_source_fatal_errors_total', help: 'Sources stopped by an error that needs a person', labelNames: ['source'], registers });
  }

  read(source: string, topic: string, op: string, n = 1): void {
    const k = `${source}\u0000${topic}\u0000${op}`;
    this.readCounts.set(k, (this.readCounts.get(k) ?? 0) + n);
  }

  published(source: string, topic: string, n: number): void {
    const k = `${source}\u0000${topic}`;
    this.publishedCounts.set(k, (this.publishedCounts.get(k) ?? 0) + n);
  }

  /** totals per topic (for /api/cdc/status) */
  totals(): Record<string, { read: number; published: number }> {
    const out: Record<string, { read: number; published: number }> = {};
    for (const [k, n] of this.readCounts) {
      const topic = k.split('\u0000')[1]!;
      (out[topic] ??= { read: 0, published: 0 }).read += n;
    }
    for (const [k, n] of this.publishedCounts) {
      const topic = k.split('\u0000')[1]!;
      (out[topic] ??= { read: 0, published: 0 }).published += n;
    }
    return out;
  }
}
