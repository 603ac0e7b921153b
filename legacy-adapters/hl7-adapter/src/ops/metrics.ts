/**
 * Prometheus metrics of the HL7 adapter. Labels carry message types and outcomes, never
 * identifiers.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export class AdapterMetrics {
  readonly registry = new Registry();
  readonly messages: Counter<'type' | 'trigger' | 'outcome'>;
  readonly ackSeconds: Histogram;
  readonly framing: Counter<'incident'>;
  readonly connections: Gauge;
  readonly backPressure: Counter;
  readonly deliveries: Counter<'target' | 'outcome'>;
  readonly pending: Gauge<'target'>;
  readonly dead: Gauge<'target'>;

  constructor(counts: () => Promise<{ target: string; pending: number; dead: number }[]>) {
    collectDefaultMetrics({ register: this.registry, prefix: 'ficus_hl7_adapter_' });
    const registers = [this.registry];
    this.messages = new Counter({
      name: 'ficus_hl7_messages_total',
      help: 'HL7 messages received, by type, trigger event and outcome (accepted, duplicate, rejected, store-error)',
      labelNames: ['type', 'trigger', 'outcome'],
      registers,
    });
    this.ackSeconds = new Histogram({
      name: 'ficus_hl7_ack_seconds',
      help: 'From the end of a received frame to its ACK written (after the commit)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
      registers,
    });
    this.framing = new Counter({ name: 'ficus_hl7_framing_incidents_total', help: 'MLLP framing incidents: garbage, oversize, discarded', labelNames: ['incident'], registers });
    this.connections = new Gauge({ name: 'ficus_hl7_connections', help: 'Open MLLP connections', registers });
    this.backPressure = new Counter({ name: 'ficus_hl7_backpressure_total', help: 'Times a connection stopped being read because its messages wait for the store', registers });
    this.deliveries = new Counter({ name: 'ficus_hl7_deliveries_total', help: 'Deliveries, by target and outcome (delivered, dead, retry)', labelNames: ['target', 'outcome'], registers });
    let last: Promise<{ target: string; pending: number; dead: number }[]> | undefined;
    const snapshot = () => (last ??= counts().finally(() => setTimeout(() => (last = undefined), 0)));
    this.pending = new Gauge({
      name: 'ficus_hl7_pending_deliveries',
      help: 'Deliveries waiting (the queue depth towards each target)',
      labelNames: ['target'],
      registers,
      async collect() {
        this.reset();
        for (const c of await snapshot().catch(() => [])) this.set({ target: c.target }, c.pending);
      },
    });
    this.dead = new Gauge({
      name: 'ficus_hl7_dead_letters',
      help: 'Deliveries refused by their target (AE/AR from legacy), kept for review and replay',
      labelNames: ['target'],
      registers,
      async collect() {
        this.reset();
        for (const c of await snapshot().catch(() => [])) this.set({ target: c.target }, c.dead);
      },
    });
  }
}
