/**
 * Delivers what the store says is pending. Each lane (a target and a partition) is worked
 * in message order, one delivery at a time for the legacy inbound, in bulk for queues; a
 * failure holds the lane (so no later message of the same patients overtakes it) and is retried
 * with backoff; a refusal by legacy (AE/AR) is a dead letter, kept with its reason, and the
 * lane moves on. Only one adapter instance dispatches at a time (a PostgreSQL advisory lock);
 * another takes over if it dies.
 */
import { decodeMessage, encodeMessageBytes } from '@ficus/hl7-protocol';
import type pg from 'pg';
import type { Logger } from '@ficus/contracts';
import type { AdapterMetrics } from '../ops/metrics.js';
import type { DeliveryStore, PendingDelivery } from './delivery-store.js';
import { DeliveryTimeoutError, MllpClient, type AckAnswer } from './mllp-client.js';
import type { QueuePublisher } from './queue-publisher.js';

export interface DispatcherOptions {
  pool: pg.Pool;
  deliveries: DeliveryStore;
  publisher: QueuePublisher;
  /** mllp:// URL of a legacy inbound upstream, by name (from the current rules) */
  legacyUrl: (upstream: string) => string | undefined;
  metrics: AdapterMetrics;
  log: Logger;
  connectTimeoutMs: number;
  ackTimeoutMs: number;
  maxBackoffMs: number;
  idlePollMs: number;
  /** told when a message's delivery to a target is settled (for application ACKs) */
  settled?: (d: PendingDelivery, outcome: 'delivered' | 'dead', answer: AckAnswer | undefined) => void;
}

const LOCK_KEY = 0x6669_6375; // "ficu": the dispatcher's advisory lock

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Dispatcher {
  private readonly lanes = new Map<string, Promise<void>>();
  private readonly clients = new Map<string, MllpClient>();
  private lockClient: pg.PoolClient | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly o: DispatcherOptions) {}

  /** Something new was stored: look now rather than at the next poll. */
  nudge(): void {
    this.wake?.();
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.nudge();
    await this.loop;
    await Promise.all(this.lanes.values());
    for (const c of this.clients.values()) c.close();
    this.lockClient?.release(true);
  }

  private async holdLock(): Promise<boolean> {
    try {
      this.lockClient ??= await this.o.pool.connect();
      const { rows } = await this.lockClient.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LOCK_KEY]);
      return rows[0]!.ok;
    } catch (e) {
      this.lockClient?.release(true);
      this.lockClient = undefined;
      this.o.log.warn({ err: (e as Error).message }, 'message store unreachable: deliveries wait');
      return false;
    }
  }

  private async run(): Promise<void> {
    let holding = false;
    while (!this.stopped) {
      if (!holding) {
        holding = await this.holdLock();
        if (holding) this.o.log.info('dispatching HL7 deliveries (this instance holds the dispatcher lock)');
      }
      if (holding) {
        try {
          for (const lane of await this.o.deliveries.busyLanes()) this.startLane(lane.target, lane.partition);
        } catch (e) {
          this.o.log.warn({ err: (e as Error).message }, 'cannot read pending deliveries');
          holding = false;
          this.lockClient?.release(true);
          this.lockClient = undefined;
        }
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.o.idlePollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private startLane(target: string, partition: number): void {
    const key = `${target}#${partition}`;
    if (this.lanes.has(key)) return;
    const work = this.workLane(target, partition).finally(() => this.lanes.delete(key));
    this.lanes.set(key, work);
  }

  /** Works one lane until it is empty or blocked; a blocked lane is looked at again later. */
  private async workLane(target: string, partition: number): Promise<void> {
    const [kind, name] = target.split(/:(.*)/s) as [string, string];
    while (!this.stopped) {
      const batch = await this.o.deliveries.pending(target, partition, kind === 'queue' ? 200 : 50);
      if (batch.length === 0) return;
      const now = Date.now();
      const ready = [];
      for (const d of batch) {
        if (d.notBefore > now) break; // the head waits for its retry: so does everything behind it
        ready.push(d);
      }
      if (ready.length === 0) {
        await sleep(Math.min(batch[0]!.notBefore - now, this.o.idlePollMs));
        continue;
      }
      const ok = kind === 'queue' ? await this.toQueue(name, partition, ready) : await this.toLegacy(name, ready);
      if (!ok) return; // retried later, from the run loop
    }
  }

  private backoff(attempts: number): number {
    return Math.min(this.o.maxBackoffMs, 250 * 2 ** Math.min(attempts, 16));
  }

  private async toQueue(service: string, partition: number, ds: PendingDelivery[]): Promise<boolean> {
    const target = `queue:${service}`;
    try {
      await this.o.publisher.publish(service, partition, ds);
    } catch (e) {
      const head = ds[0]!;
      this.o.metrics.deliveries.inc({ target, outcome: 'retry' });
      this.o.log.warn({ target, err: (e as Error).message, attempts: head.attempts + 1 }, 'cannot publish to the queue; will retry');
      await this.o.deliveries.retryLater(head.id, (e as Error).message, this.backoff(head.attempts)).catch(() => undefined);
      return false;
    }
    await this.o.deliveries.delivered(
      ds.map((d) => d.id),
      null,
    );
    this.o.metrics.deliveries.inc({ target, outcome: 'delivered' }, ds.length);
    for (const d of ds) this.o.settled?.(d, 'delivered', undefined);
    return true;
  }

  private async toLegacy(upstream: string, ds: PendingDelivery[]): Promise<boolean> {
    const target = `legacy:${upstream}`;
    for (const d of ds) {
      // one connection per lane, so lanes do not wait for each other
      const client = this.laneClient(upstream, d.partition);
      if (!client) {
        await this.o.deliveries.retryLater(d.id, `no legacy inbound "${upstream}" in the current rules`, this.backoff(d.attempts));
        return false;
      }
      let answer: AckAnswer;
      try {
        answer = await client.send(forwardable(d), d.controlId);
      } catch (e) {
        const why = e instanceof DeliveryTimeoutError ? e.message : `the legacy inbound is unreachable: ${(e as Error).message}`;
        this.o.metrics.deliveries.inc({ target, outcome: 'retry' });
        if (d.attempts === 0 || d.attempts % 10 === 0) this.o.log.warn({ target, controlId: d.controlId, attempts: d.attempts + 1 }, `delivery to legacy failed, will retry: ${why}`);
        await this.o.deliveries.retryLater(d.id, why, this.backoff(d.attempts));
        return false;
      }
      const accepted = answer.code === 'AA' || answer.code === 'CA';
      if (accepted) {
        await this.o.deliveries.delivered([d.id], answer.code);
        this.o.metrics.deliveries.inc({ target, outcome: 'delivered' });
      } else {
        await this.o.deliveries.dead(d.id, `${answer.code}${answer.text ? `: ${answer.text}` : ''}`);
        this.o.metrics.deliveries.inc({ target, outcome: 'dead' });
        this.o.log.warn({ target, controlId: d.controlId, type: d.messageType, trigger: d.triggerEvent, code: answer.code }, 'legacy refused an HL7 message: dead letter');
      }
      this.o.settled?.(d, accepted ? 'delivered' : 'dead', answer);
    }
    return true;
  }

  private laneClient(upstream: string, partition: number): MllpClient | undefined {
    const url = this.o.legacyUrl(upstream);
    if (!url) return undefined;
    const key = `${upstream}#${partition} ${url}`;
    let c = this.clients.get(key);
    if (!c) {
      c = new MllpClient(new URL(url), { connectMs: this.o.connectTimeoutMs, ackMs: this.o.ackTimeoutMs });
      this.clients.set(key, c);
    }
    return c;
  }
}

/** The message as legacy gets it: its text with CR segment ends, in its own charset, no BOM. */
function forwardable(d: PendingDelivery): Buffer {
  const decoded = decodeMessage(d.raw);
  return decoded.ok ? encodeMessageBytes(decoded.message.text, decoded.message.charset) : d.raw;
}
