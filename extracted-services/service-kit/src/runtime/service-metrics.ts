/**
 * Prometheus metrics of an extracted service. Labels carry route patterns, message types,
 * topics and outcomes, never identifiers. One registry per service instance (tests run
 * several in one process); every series carries `service`.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { SystemOfRecord } from './service-env.js';

export type Hl7Outcome = 'applied' | 'stale' | 'duplicate' | 'refused' | 'failed';
export type ChangeOutcome = 'applied' | 'skipped' | 'conflict';

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'method' | 'code'>;
  readonly hl7Messages: Counter<'type' | 'outcome'>;
  readonly changes: Counter<'topic' | 'outcome'>;
  readonly lag: Histogram<'topic'>;
  readonly conflicts: Counter<'topic'>;
  readonly systemOfRecord: Gauge;
  readonly purged: Counter<'what'>;
  readonly withdrawals: Counter<'topic' | 'outcome'>;

  constructor(readonly service: string, regime: SystemOfRecord) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry, prefix: 'ficus_service_' });
    const registers = [this.registry];
    this.requests = new Counter({ name: 'ficus_service_http_requests_total', help: 'HTTP requests answered, by route pattern, method and status', labelNames: ['route', 'method', 'code'], registers });
    this.hl7Messages = new Counter({
      name: 'ficus_service_hl7_messages_total',
      help: 'HL7 messages taken from the queue, by type (ADT^A01) and outcome: applied, stale (older than the row: not applied), duplicate (applied before), refused (dead letter), failed (retried), waiting (names a patient or stay not known yet: tried again; counted once)',
      labelNames: ['type', 'outcome'],
      registers,
    });
    this.changes = new Counter({
      name: 'ficus_service_cdc_changes_total',
      help: 'CDC changes, by topic and outcome: applied, skipped (already applied, or written back by Ficus), conflict (a legacy change older than a local one: recorded, not applied)',
      labelNames: ['topic', 'outcome'],
      registers,
    });
    this.lag = new Histogram({
      name: 'ficus_service_cdc_lag_seconds',
      help: 'From the source commit of a change to its commit here',
      labelNames: ['topic'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900],
      registers,
    });
    this.conflicts = new Counter({ name: 'ficus_service_conflicts_total', help: 'Changes recorded as conflicts for review (ficus_change_conflicts)', labelNames: ['topic'], registers });
    this.purged = new Counter({ name: 'ficus_service_dedup_purged_total', help: 'Rows of deduplication state deleted after SERVICE_DEDUP_RETENTION_DAYS: hl7-applied, tombstones', labelNames: ['what'], registers });
    this.withdrawals = new Counter({
      name: 'ficus_service_snapshot_rows_total',
      help: "Rows a complete re-snapshot did not bring, by topic and outcome: withdrawn (deleted as the legacy's delete would), kept (a change of the service's own still to be written back, or the snapshot row refused)",
      labelNames: ['topic', 'outcome'],
      registers,
    });
    this.systemOfRecord = new Gauge({ name: 'ficus_service_system_of_record', help: '1 while this service is the system of record for its entities, 0 while the legacy system is', registers });
    this.systemOfRecord.set(regime === 'service' ? 1 : 0);
  }

  /** a gauge read at scrape time (queue depths, dead letters) */
  gauge(name: string, help: string, labelNames: string[], collect: () => Promise<{ labels: Record<string, string>; value: number }[]>): void {
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const s of await collect().catch(() => [])) this.set(s.labels, s.value);
      },
    });
  }
}
