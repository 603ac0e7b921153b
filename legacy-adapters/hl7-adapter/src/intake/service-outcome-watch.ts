/**
 * Watches the jobs on the new services' queues whose application ACK a sender waits for, until
 * the service is done with each (applied it, or gave it up: a dead letter) or the wait is over.
 * BullMQ keeps a job's state, so asking for it is right after a restart as well as before, and
 * a job finished while nobody asked is found finished: no event can be missed. Only messages an
 * application ACK waits for are watched (MSH-16 in mode new): a few, asked a few times a second.
 */
import type { Logger } from '@ficus/contracts';
import type { ServiceAnswer } from '../delivery/service-answers.js';

interface Watched {
  target: string;
  partition: number;
  /** given up on after this (epoch ms) */
  until: number;
}

export interface ServiceOutcomeWatchOptions {
  log: Logger;
  /** how long a message is watched once on its queue */
  waitMs: number;
  /** what the service made of a job; undefined while it is not done with it */
  outcome: (service: string, partition: number, jobId: string) => Promise<ServiceAnswer | undefined>;
  learned: (messageId: number, target: string, answer: ServiceAnswer) => void;
  gaveUp: (messageId: number, target: string) => void;
}

const POLL_MS = 200;
/** jobs asked about at once */
const PARALLEL = 50;

export class ServiceOutcomeWatch {
  private readonly watched = new Map<number, Watched>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  /** Redis unreachable: logged once per outage */
  private failing = false;

  constructor(private readonly o: ServiceOutcomeWatchOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  watching(messageId: number): boolean {
    return this.watched.has(messageId);
  }

  /** Watch the first delivery of a message (job `message-<id>`); watched again, the wait starts again (a resend waits too). */
  watch(messageId: number, target: string, partition: number): void {
    this.watched.set(messageId, { target, partition, until: Date.now() + this.o.waitMs });
  }

  private async poll(): Promise<void> {
    if (this.polling || this.watched.size === 0) return;
    this.polling = true;
    try {
      const all = [...this.watched];
      for (let i = 0; i < all.length; i += PARALLEL) await Promise.all(all.slice(i, i + PARALLEL).map(([id, w]) => this.ask(id, w)));
      this.failing = false;
    } catch (e) {
      if (!this.failing) this.o.log.warn({ err: (e as Error).message }, "cannot read the services' queues for application ACKs; trying again");
      this.failing = true;
    } finally {
      this.polling = false;
    }
  }

  private async ask(messageId: number, w: Watched): Promise<void> {
    const answer = await this.o.outcome(w.target.slice('queue:'.length), w.partition, `message-${messageId}`).catch((e: Error) => {
      if (Date.now() > w.until) return undefined;
      throw e;
    });
    if (this.watched.get(messageId) !== w) return; // watched again meanwhile: the newer entry decides
    if (answer) {
      this.watched.delete(messageId);
      this.o.learned(messageId, w.target, answer);
    } else if (Date.now() > w.until) {
      this.watched.delete(messageId);
      this.o.gaveUp(messageId, w.target);
    }
  }
}
