/**
 * Application acknowledgements in enhanced mode (MSH-16): the commit ACK (CA) says a message
 * is safely stored; the application ACK says what the system of record made of it. It is sent
 * when the message's authoritative delivery settles, on the connection the message came in on,
 * if that connection is still open; MSH-16 decides whether one is due (AL always, SU on success,
 * ER on error, NE never). In modes legacy and dual the legacy inbound's answer settles it. In
 * mode new, the service's: a message on its queue is not yet applied (the service may wait for
 * its patient, then give it up), so the adapter watches the job (ServiceOutcomeWatch) and
 * answers AA once the service took it, AE/AR with the service's reason once it gave it up, for
 * up to HL7_SERVICE_ACK_WAIT_MS; past that no application ACK is sent on that connection, and
 * the sender's resend gets it once the service has settled. (Until 2026-12-06 the queue's
 * accepting the job was answered AA: the lab took a result the service later refused as filed.)
 *
 * What is waited for lives in memory, but nothing is lost by a restart or a closed connection:
 * a sender that did not get its application ACK sends the message again, and the resend (a
 * duplicate, not processed again) is answered with the commit ACK and then the application
 * ACK, at once when the delivery has settled, else when it does. The dispatcher says when a
 * delivery settles; the store is also asked every second, for what this instance waits for and
 * another instance (the one holding the dispatcher lock) or an earlier run delivered.
 */
import { buildAck, encodeFrame, hl7Error, type AckSubject, type Hl7ErrorCode, type Hl7ErrorLocation } from '@ficus/hl7-protocol';
import type { Logger } from '@ficus/contracts';
import { readAnswerText } from '../delivery/legacy-answers.js';
import { serviceAnswerText, type ServiceAnswer } from '../delivery/service-answers.js';
import type { AuthoritativeDelivery } from '../store/message-store.js';
import { ServiceOutcomeWatch } from './service-outcome-watch.js';

export type AppAckCode = 'AA' | 'AE' | 'AR';

/** What the system of record made of a message: its code and, for a refusal, why and its error code (table 0357) when it gave one. */
export interface SettledAnswer {
  code: AppAckCode;
  why?: string;
  error?: Hl7ErrorCode;
  /** where in the message, when the system of record said (a service's reason does) */
  location?: Hl7ErrorLocation;
}

interface Awaited {
  subject: AckSubject;
  condition: string;
  authoritative: string;
  send: (frame: Buffer) => boolean;
}

/** the most application ACKs waited for at once; beyond, the oldest are forgotten (their senders resend) */
const MAX_WAITING = 100_000;
const POLL_MS = 1_000;
/** messages looked up in the store per poll, oldest first */
const POLL_BATCH = 1_000;

export interface AppAckOptions {
  log: Logger;
  /** where the authoritative deliveries of these messages stand (the store) */
  lookup: (messageIds: number[]) => Promise<Map<number, AuthoritativeDelivery>>;
  /** told of every application ACK written */
  sent?: (code: AppAckCode) => void;
  /** what a new service made of a message's job on its queue; undefined while it is not done with it */
  serviceOutcome?: (service: string, partition: number, jobId: string) => Promise<ServiceAnswer | undefined>;
  /** keeps a service's answer with the message's authoritative delivery, for the application ACK of a later resend */
  recordAnswer?: (messageId: number, target: string, answer: string) => Promise<void>;
  /** how long, once a message is on a service's queue, its application ACK waits for the service (HL7_SERVICE_ACK_WAIT_MS) */
  serviceWaitMs?: number;
}

export class AppAcks {
  private readonly waiting = new Map<number, Awaited[]>();
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly log: Logger;
  private readonly watch: ServiceOutcomeWatch;

  constructor(private readonly o: AppAckOptions) {
    this.log = o.log;
    this.watch = new ServiceOutcomeWatch({
      log: o.log,
      waitMs: o.serviceWaitMs ?? 300_000,
      outcome: o.serviceOutcome ?? (async () => undefined),
      learned: (messageId, target, answer) => void this.learned(messageId, target, answer),
      gaveUp: (messageId, target) => this.gaveUp(messageId, target),
    });
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), POLL_MS);
    this.timer.unref();
    this.watch.start();
  }

  stop(): void {
    clearInterval(this.timer);
    this.watch.stop();
  }

  private async poll(): Promise<void> {
    if (this.polling || this.waiting.size === 0) return;
    this.polling = true;
    try {
      const ids = [...this.waiting.keys()].filter((id) => !this.watch.watching(id)).slice(0, POLL_BATCH);
      for (const [id, d] of await this.o.lookup(ids)) this.stands(id, d);
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'cannot look up the deliveries application ACKs wait for');
    } finally {
      this.polling = false;
    }
  }

  static wanted(applicationAckType: string): boolean {
    return applicationAckType === 'AL' || applicationAckType === 'SU' || applicationAckType === 'ER';
  }

  /** The application ACK frame for `answer`, or undefined when MSH-16 asks for none on this outcome. */
  frame(subject: AckSubject, condition: string, answer: SettledAnswer): Buffer | undefined {
    const ack = this.message(subject, condition, answer);
    return ack && encodeFrame(ack);
  }

  /** The application ACK itself (unframed), or undefined when MSH-16 asks for none on this outcome. */
  message(subject: AckSubject, condition: string, { code, why, error: theirCode, location }: SettledAnswer): Buffer | undefined {
    const due = condition === 'AL' || (condition === 'SU' && code === 'AA') || (condition === 'ER' && code !== 'AA');
    if (!due) return undefined;
    this.o.sent?.(code);
    // the system of record's own code tells the sender what to fix (204: no such patient); 207 only when it gave none
    const error = code === 'AA' ? undefined : hl7Error(theirCode ?? 207, why ? `the system of record refused the message: ${why}` : 'the system of record refused the message', location);
    return buildAck(subject, code, error ? { error } : {}).bytes;
  }

  /**
   * Waits for the settling of this authoritative delivery (pending, or on a service's queue
   * and not yet answered by the service) to send the application ACK on `send`.
   */
  expect(messageId: number, subject: AckSubject, condition: string, authoritative: Pick<AuthoritativeDelivery, 'target' | 'partition' | 'status'>, send: (frame: Buffer) => boolean): void {
    // only what an ACK needs: not the message itself
    const slim: AckSubject = { header: subject.header, delimiters: subject.delimiters, charset: subject.charset };
    const entry = { subject: slim, condition, authoritative: authoritative.target, send };
    const list = this.waiting.get(messageId);
    if (list) list.push(entry);
    else this.waiting.set(messageId, [entry]);
    this.size++;
    while (this.size > MAX_WAITING) {
      const [oldest, entries] = this.waiting.entries().next().value as [number, Awaited[]];
      this.waiting.delete(oldest);
      this.size -= entries.length;
    }
    if (authoritative.status !== 'pending') this.stands(messageId, authoritative);
  }

  /** A message's delivery to a service's queue was published: its application ACK waits for the service, if one is awaited. */
  published(messageId: number, target: string, partition: number): void {
    if (this.waiting.get(messageId)?.[0]!.authoritative === target) this.watch.watch(messageId, target, partition);
  }

  /** Where the authoritative delivery stands, as the store says: settled, or to watch on its service's queue. */
  private stands(messageId: number, d: Pick<AuthoritativeDelivery, 'target' | 'partition' | 'status'> & { answer?: string | null }): void {
    const answer = d.answer === undefined ? undefined : settledAnswer(d.target, d.status, d.answer);
    if (answer) this.settled(messageId, d.target, answer);
    else if (d.target.startsWith('queue:') && d.status === 'delivered') this.watch.watch(messageId, d.target, d.partition);
  }

  /** The service is done with a message: its answer is kept (for a resend's application ACK), then sent. */
  private async learned(messageId: number, target: string, a: ServiceAnswer): Promise<void> {
    const text = serviceAnswerText(a);
    await this.o.recordAnswer?.(messageId, target, text).catch((e: Error) => this.log.warn({ err: e.message, messageId }, "cannot keep a service's answer with its message; a resend will ask the queue again"));
    this.settled(messageId, target, settledAnswer(target, 'delivered', text)!);
  }

  /** Waited long enough for the service: no application ACK now; the sender's resend gets it once the service has settled. */
  private gaveUp(messageId: number, target: string): void {
    const list = this.waiting.get(messageId);
    if (!list || list[0]!.authoritative !== target) return;
    this.waiting.delete(messageId);
    this.size -= list.length;
    this.log.warn({ messageId, controlId: list[0]!.subject.header?.controlId, target }, 'the service has not settled an HL7 message within HL7_SERVICE_ACK_WAIT_MS: no application ACK sent now; a resend of the message gets it once the service has');
  }

  /** A delivery settled; `answer` is the system of record's (AA, AE, AR). */
  settled(messageId: number, target: string, answer: SettledAnswer): void {
    const list = this.waiting.get(messageId);
    if (!list || list[0]!.authoritative !== target) return;
    this.waiting.delete(messageId);
    this.size -= list.length;
    for (const w of list) {
      const frame = this.frame(w.subject, w.condition, answer);
      if (frame && !w.send(frame)) this.log.info({ controlId: w.subject.header?.controlId, code: answer.code }, "application ACK not sent: the sender's connection is closed; a resend will get it");
    }
  }
}

/**
 * The application ACK code (and reason) of an authoritative delivery, from its stored answer
 * (legacy-answers.ts, service-answers.ts); undefined while it is not settled. Delivered to
 * legacy is settled (legacy ACKed it: applied); published to a service's queue is not, until the
 * service's own answer is kept with it.
 */
export function settledAnswer(target: string, status: AuthoritativeDelivery['status'], answer: string | null): SettledAnswer | undefined {
  if (status === 'pending') return undefined;
  if (target.startsWith('queue:')) {
    if (answer === null) return undefined;
    if (answer === 'AA') return { code: 'AA' };
  } else if (status === 'delivered') return { code: 'AA' };
  const { code, error, location, why } = readAnswerText(answer ?? '');
  return { code: code === 'AR' || code === 'CR' ? 'AR' : 'AE', ...(error === undefined ? {} : { error }), ...(location ? { location } : {}), ...(why ? { why } : {}) };
}
