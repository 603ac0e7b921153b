/**
 * How one lane's deliveries reach their target, for the dispatcher (dispatcher.ts): to a
 * service's queue in bulk, to a legacy inbound over MLLP one at a time on a connection of the
 * lane's own. A failure, or a refusal legacy calls temporary, holds the lane for a backoff; a
 * message of several patients waits until the other patients' lanes are clear (lane-order.ts).
 */
import type { PendingDelivery } from './delivery-store.js';
import type { DispatcherOptions } from './dispatcher.js';
import { DeliveryTimeoutError, MllpClient, type AckAnswer } from './mllp-client.js';
import { legacyCopy } from './legacy-copy.js';
import { answerText } from './legacy-answers.js';
import { jobIdOf } from './queue-publisher.js';
import { SERVICE_HOLD_NOTE } from './lane-order.js';

export interface PartitionOutcome {
  delivered: number[];
  /** the lane is held until then (its head is retried with backoff) */
  retryAt?: number;
}

export class LaneSenders {
  private readonly clients = new Map<string, { url: string; client: MllpClient }>();

  constructor(private readonly o: DispatcherOptions) {}

  /** Closes every lane's connection to legacy. */
  close(): void {
    for (const c of this.clients.values()) c.client.close();
    this.clients.clear();
  }

  private backoff(attempts: number): number {
    return Math.min(this.o.maxBackoffMs, 250 * 2 ** Math.min(attempts, 16));
  }

  /** Holds the lane: its head is tried again after a backoff. Returns when. */
  private async retryLater(target: string, head: PendingDelivery, why: string): Promise<number> {
    this.o.metrics.deliveries.inc({ target, outcome: 'retry' });
    const delay = this.backoff(head.attempts);
    await this.o.deliveries.retryLater(head.id, why, delay).catch(() => undefined);
    // the store counts the delay from its own clock, a moment later
    return Date.now() + delay + 20;
  }

  /** How soon a lane held by a message of several patients looks again (waiting is not a failed attempt). */
  get recheckMs(): number {
    return Math.min(this.o.idlePollMs, 250);
  }

  /**
   * Whether a message of several patients must wait for the others' lanes: an older delivery
   * of theirs still pending here (to the same target), or, to a service's queue, jobs the
   * service has not finished in their partitions (published is not applied: a job held there,
   * its patient not known yet, say, would be applied after this message otherwise).
   */
  private async othersFirst(d: PendingDelivery, service?: string): Promise<boolean> {
    if (d.afterPartitions.length === 0) return false;
    if (await this.o.deliveries.pendingBefore(d.target, d.afterPartitions, d.id)) return true;
    return service !== undefined && (await this.o.publisher.unfinished(service, d.afterPartitions));
  }

  /**
   * One lane's deliveries to a service's queue, in one round trip, up to and including the first
   * message of several patients: that one is published only when the others' lanes are clear,
   * and stays pending, holding its lanes, until the service is done with it (so that their later
   * messages reach the service after it); the rest of the lane comes after.
   */
  async toQueue(service: string, all: PendingDelivery[]): Promise<PartitionOutcome> {
    const target = `queue:${service}`;
    const i = all.findIndex((d) => d.afterPartitions.length > 0);
    const multi = i < 0 ? undefined : all[i]!;
    const before = i < 0 ? all : all.slice(0, i);
    let waits: boolean;
    try {
      waits = multi !== undefined && (await this.othersFirst(multi, service));
    } catch {
      waits = true; // the service's queues cannot be read (Redis away): looked at again shortly
    }
    const ds = multi && !waits ? [...before, multi] : before;
    if (ds.length === 0) return { delivered: [], retryAt: Date.now() + this.recheckMs };
    try {
      await this.o.publisher.publish(service, ds[0]!.partition, ds);
    } catch (e) {
      const head = ds[0]!;
      if (head.attempts === 0 || head.attempts % 10 === 0) this.o.log.warn({ target, err: (e as Error).message, attempts: head.attempts + 1 }, 'cannot publish to the queue; will retry');
      return { delivered: [], retryAt: await this.retryLater(target, head, (e as Error).message) };
    }
    let done = ds;
    let held = waits;
    if (multi && !waits) {
      const finished = await this.o.publisher.outcome(service, multi.partition, jobIdOf(multi)).catch(() => undefined);
      if (!finished) {
        done = before;
        held = true;
        if (multi.attempts === 0) await this.o.deliveries.heldForService(multi.id, SERVICE_HOLD_NOTE).catch(() => undefined);
      }
    }
    this.o.metrics.delivered(target, 'delivered', done);
    for (const d of done) this.o.settled?.(d, 'delivered', undefined);
    // held: looked at again shortly; a message of several patients done: the rest of the lane is read again at once
    return { delivered: done.map((d) => d.id), retryAt: held ? Date.now() + this.recheckMs : multi ? Date.now() : undefined };
  }

  /**
   * One partition's deliveries to the legacy inbound, strictly one after the other. Marked
   * delivered with the next round's query: a crash before that means a resend, which the legacy
   * inbound recognises by (sending facility, control id) and answers without applying again.
   */
  async toLegacy(upstream: string, ds: PendingDelivery[]): Promise<PartitionOutcome> {
    const target = `legacy:${upstream}`;
    const delivered: number[] = [];
    for (const d of ds) {
      const client = this.laneClient(upstream, d.partition);
      if (!client) return { delivered, retryAt: await this.retryLater(target, d, `no legacy inbound "${upstream}" in the current rules`) };
      if (await this.othersFirst(d)) return { delivered, retryAt: Date.now() + this.recheckMs };
      let answer: AckAnswer;
      try {
        answer = await client.send(legacyCopy(d.raw), d.controlId);
      } catch (e) {
        const why = e instanceof DeliveryTimeoutError ? e.message : `the legacy inbound is unreachable: ${(e as Error).message}`;
        if (d.attempts === 0 || d.attempts % 10 === 0) this.o.log.warn({ target, controlId: d.controlId, attempts: d.attempts + 1 }, `delivery to legacy failed, will retry: ${why}`);
        return { delivered, retryAt: await this.retryLater(target, d, why) };
      }
      const accepted = answer.code === 'AA' || answer.code === 'CA';
      if (accepted) {
        delivered.push(d.id);
        this.o.metrics.delivered(target, 'delivered', [d]);
      } else if (this.o.temporary(answer)) {
        // as a timeout: the lane waits, so nothing later of the patient is applied before this one
        if (d.attempts === 0 || d.attempts % 10 === 0) {
          this.o.log.warn({ target, controlId: d.controlId, type: d.messageType, trigger: d.triggerEvent, code: answer.code, errorCodes: answer.errorCodes, attempts: d.attempts + 1 }, 'legacy cannot take an HL7 message now; its lane waits, will retry');
        }
        return { delivered, retryAt: await this.retryLater(target, d, `legacy answered ${answerText(answer)} (temporary by HL7_LEGACY_RETRY_ON)`) };
      } else {
        await this.o.deliveries.dead(d.id, answerText(answer));
        this.o.metrics.delivered(target, 'dead', [d]);
        this.o.log.warn({ target, controlId: d.controlId, type: d.messageType, trigger: d.triggerEvent, code: answer.code, errorCodes: answer.errorCodes }, 'legacy refused an HL7 message: dead letter');
      }
      this.o.settled?.(d, accepted ? 'delivered' : 'dead', answer);
    }
    return { delivered };
  }

  /** One connection per partition, so partitions do not wait for each other. */
  private laneClient(upstream: string, partition: number): MllpClient | undefined {
    const url = this.o.legacyUrl(upstream);
    if (!url) return undefined;
    const key = `${upstream}#${partition}`;
    const tls = this.o.legacyTls?.(upstream);
    // a rotated certificate (a rule reload read other files) counts as a move: connect again with it
    const where = `${url}#${tls?.fingerprint ?? ''}`;
    const known = this.clients.get(key);
    if (known?.url === where) return known.client;
    // the rules moved the inbound: the old connection goes
    known?.client.close();
    const client = new MllpClient(new URL(url), { connectMs: this.o.connectTimeoutMs, ackMs: this.o.ackTimeoutMs }, tls);
    this.clients.set(key, { url: where, client });
    return client;
  }
}
