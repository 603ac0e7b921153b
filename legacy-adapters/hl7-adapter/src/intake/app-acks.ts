/**
 * Application acknowledgements in enhanced mode (MSH-16): the commit ACK (CA) says a message
 * is safely stored; the application ACK says what the system of record made of it. It is sent
 * when the message's authoritative delivery settles (the legacy inbound in modes legacy and
 * dual, the new service's queue in mode new), on the connection the message came in on, if
 * that connection is still open; MSH-16 decides whether one is due (AL always, SU on success,
 * ER on error, NE never).
 *
 * What is waited for lives in memory, but nothing is lost by a restart or a closed connection:
 * a sender that did not get its application ACK sends the message again, and the resend (a
 * duplicate, not processed again) is answered with the commit ACK and then the application
 * ACK, at once when the delivery has settled, else when it does. The dispatcher says when a
 * delivery settles; the store is also asked every second, for what this instance waits for and
 * another instance (the one holding the dispatcher lock) or an earlier run delivered.
 */
import { buildAck, encodeFrame, hl7Error, type AckSubject, type Hl7ErrorCode } from '@ficus/hl7-protocol';
import type { Logger } from '@ficus/contracts';
import { readAnswerText } from '../delivery/legacy-answers.js';
import type { AuthoritativeDelivery } from '../store/message-store.js';

export type AppAckCode = 'AA' | 'AE' | 'AR';

/** What the system of record made of a message: its code and, for a refusal, why and its error code (table 0357) when it gave one. */
export interface SettledAnswer {
  code: AppAckCode;
  why?: string;
  error?: Hl7ErrorCode;
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
}

export class AppAcks {
  private readonly waiting = new Map<number, Awaited[]>();
  private size = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly log: Logger;

  constructor(private readonly o: AppAckOptions) {
    this.log = o.log;
  }

  start(): void {
    this.timer = setInterval(() => void this.poll(), POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async poll(): Promise<void> {
    if (this.polling || this.waiting.size === 0) return;
    this.polling = true;
    try {
      const ids = [...this.waiting.keys()].slice(0, POLL_BATCH);
      for (const [id, d] of await this.o.lookup(ids)) {
        if (d.status === 'pending') continue;
        this.settled(id, d.target, settledAnswer(d.status, d.answer));
      }
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
  message(subject: AckSubject, condition: string, { code, why, error: legacyCode }: SettledAnswer): Buffer | undefined {
    const due = condition === 'AL' || (condition === 'SU' && code === 'AA') || (condition === 'ER' && code !== 'AA');
    if (!due) return undefined;
    this.o.sent?.(code);
    // the system of record's own code tells the sender what to fix (204: no such patient); 207 only when it gave none
    const error = code === 'AA' ? undefined : hl7Error(legacyCode ?? 207, why ? `the system of record refused the message: ${why}` : 'the system of record refused the message');
    return buildAck(subject, code, error ? { error } : {}).bytes;
  }

  expect(messageId: number, subject: AckSubject, condition: string, authoritative: string, send: (frame: Buffer) => boolean): void {
    // only what an ACK needs: not the message itself
    const slim: AckSubject = { header: subject.header, delimiters: subject.delimiters, charset: subject.charset };
    const list = this.waiting.get(messageId);
    if (list) list.push({ subject: slim, condition, authoritative, send });
    else this.waiting.set(messageId, [{ subject: slim, condition, authoritative, send }]);
    this.size++;
    while (this.size > MAX_WAITING) {
      const [oldest, entries] = this.waiting.entries().next().value as [number, Awaited[]];
      this.waiting.delete(oldest);
      this.size -= entries.length;
    }
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

/** The application ACK code (and reason) of a settled authoritative delivery, from its stored answer (legacy-answers.ts). */
export function settledAnswer(status: 'delivered' | 'dead' | 'pending', answer: string | null): SettledAnswer {
  if (status === 'delivered') return { code: 'AA' };
  const { code, error, why } = readAnswerText(answer ?? '');
  return { code: code === 'AR' || code === 'CR' ? 'AR' : 'AE', ...(error === undefined ? {} : { error }), ...(why ? { why } : {}) };
}
