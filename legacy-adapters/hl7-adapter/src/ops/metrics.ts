/**
 * Prometheus metrics of the HL7 adapter. Labels carry message types, targets, queue names and
 * outcomes, never identifiers. What lives elsewhere (pending deliveries and dead letters in the
 * store, waiting jobs in BullMQ) is read when Prometheus scrapes, once per scrape, with a time
 * limit: a scrape never hangs on a store or a Redis that is down.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface DeliveryCounts {
  target: string;
  pending: number;
  dead: number;
}

export interface QueueDepth {
  queue: string;
  /** waiting (ready for a worker), delayed (a retry's backoff), active, failed (the consumers' dead letters) */
  counts: Record<'waiting' | 'delayed' | 'active' | 'failed', number>;
}

export interface MetricSources {
  deliveryCounts: () => Promise<DeliveryCounts[]>;
  queueDepths: () => Promise<QueueDepth[]>;
  /** the HL7 rules the emergency override file holds in legacy now */
  emergencyPinned: () => Iterable<string>;
}

/** how long a scrape waits for the store or Redis before it leaves their figures out */
const SCRAPE_WAIT_MS = 2_000;

function within<T>(p: Promise<T>, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve) => {
    timer = setTimeout(() => resolve(fallback), SCRAPE_WAIT_MS);
  });
  return Promise.race([p.catch(() => fallback), late]).finally(() => clearTimeout(timer));
}

/** One read shared by the gauges of one scrape. */
function perScrape<T>(read: () => Promise<T>, fallback: T): () => Promise<T> {
  let last: Promise<T> | undefined;
  return () => (last ??= within(read(), fallback).finally(() => setTimeout(() => (last = undefined), 0)));
}

export type Direction = 'inbound' | 'outbound';

export class AdapterMetrics {
  readonly registry = new Registry();
  readonly messages: Counter<'direction' | 'type' | 'trigger' | 'outcome'>;
  readonly acks: Counter<'code'>;
  readonly ackSeconds: Histogram;
  readonly framing: Counter<'incident'>;
  readonly connections: Gauge;
  readonly backPressure: Counter;
  readonly deliveries: Counter<'target' | 'outcome'>;
  readonly pending: Gauge<'target'>;
  readonly dead: Gauge<'target'>;
  readonly queueJobs: Gauge<'queue' | 'state'>;
  readonly purged: Counter<'what'>;
  readonly emergencyOverride: Gauge<'rule'>;

  constructor(sources: MetricSources) {
    collectDefaultMetrics({ register: this.registry, prefix: 'ficus_hl7_adapter_' });
    const registers = [this.registry];
    this.messages = new Counter({
      name: 'ficus_hl7_messages_total',
      help: 'HL7 messages by direction (inbound: from senders; outbound: to a target), type, trigger event and outcome (inbound: accepted, duplicate, duplicate-differs (a control id reused with other content), rejected, store-error, query-answered, query-failed (a query passed to legacy while the sender waits), ack-ignored (an ACK sent to the listener: never answered); outbound: delivered, dead)',
      labelNames: ['direction', 'type', 'trigger', 'outcome'],
      registers,
    });
    this.acks = new Counter({ name: 'ficus_hl7_acks_total', help: 'ACKs sent to senders, by MSA-1 code (AA, AE, AR; CA, CE, CR; application ACKs and legacy\'s answers to queries included)', labelNames: ['code'], registers });
    this.ackSeconds = new Histogram({
      name: 'ficus_hl7_ack_seconds',
      help: 'From the end of a received frame to its ACK written (after the commit)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers,
    });
    this.purged = new Counter({ name: 'ficus_hl7_purged_total', help: 'Stored messages and rejected frames deleted by the retention (HL7_RETENTION_DAYS)', labelNames: ['what'], registers });
    this.framing = new Counter({ name: 'ficus_hl7_framing_incidents_total', help: 'MLLP framing incidents: garbage, oversize, discarded', labelNames: ['incident'], registers });
    this.connections = new Gauge({ name: 'ficus_hl7_connections', help: 'Open MLLP connections', registers });
    this.backPressure = new Counter({ name: 'ficus_hl7_backpressure_total', help: 'Times a connection stopped being read: its messages wait for the store, or its sender does not read its ACKs', registers });
    this.deliveries = new Counter({ name: 'ficus_hl7_deliveries_total', help: 'Delivery attempts, by target and outcome (delivered, dead, retry)', labelNames: ['target', 'outcome'], registers });

    this.emergencyOverride = new Gauge({
      name: 'ficus_hl7_emergency_override',
      help: "1 for each HL7 rule this instance's emergency override file holds in legacy (the legacy inbound only), whatever the rule store serves",
      labelNames: ['rule'],
      registers,
      collect() {
        this.reset();
        for (const rule of sources.emergencyPinned()) this.set({ rule }, 1);
      },
    });

    const counts = perScrape(sources.deliveryCounts, [] as DeliveryCounts[]);
    this.pending = new Gauge({
      name: 'ficus_hl7_pending_deliveries',
      help: 'Deliveries waiting in the message store, per target (the backlog towards the legacy inbound and each queue)',
      labelNames: ['target'],
      registers,
      async collect() {
        this.reset();
        for (const c of await counts()) this.set({ target: c.target }, c.pending);
      },
    });
    this.dead = new Gauge({
      name: 'ficus_hl7_dead_letters',
      help: 'Deliveries refused by their target (AE/AR from legacy), kept for review and replay',
      labelNames: ['target'],
      registers,
      async collect() {
        this.reset();
        for (const c of await counts()) this.set({ target: c.target }, c.dead);
      },
    });
    const depths = perScrape(sources.queueDepths, [] as QueueDepth[]);
    this.queueJobs = new Gauge({
      name: 'ficus_hl7_queue_jobs',
      help: "Jobs in the new services' HL7 queues (BullMQ), by queue and state: waiting is the queue depth, failed the consumers' dead letters",
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        this.reset();
        for (const q of await depths()) for (const [state, n] of Object.entries(q.counts)) this.set({ queue: q.queue, state }, n);
      },
    });
  }

  /** A final outcome of delivering some messages to a target (retries count in deliveries only). */
  delivered(target: string, outcome: 'delivered' | 'dead', ds: { messageType: string; triggerEvent: string }[]): void {
    this.deliveries.inc({ target, outcome }, ds.length);
    for (const d of ds) this.messages.inc({ direction: 'outbound', type: d.messageType, trigger: d.triggerEvent, outcome });
  }
}
