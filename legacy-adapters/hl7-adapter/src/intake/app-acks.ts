/**
 * Application acknowledgements in enhanced mode (MSH-16): the commit ACK (CA) says a message
 * is safely stored; the application ACK says what the system of record made of it. It is sent
 * when the message's authoritative delivery settles (the legacy inbound in modes legacy and
 * dual, the new service's queue in mode new), on the connection the message came in on, if
 * that connection is still open; MSH-16 decides whether one is due (AL always, SU on success,
 * ER on error, NE never). Kept in memory: after a restart none is sent for earlier messages.
 */
import { buildAck, encodeFrame, type AckSubject } from '@ficus/hl7-protocol';
import type { Logger } from '@ficus/contracts';

interface Awaited {
  subject: AckSubject;
  condition: string;
  authoritative: string;
  send: (frame: Buffer) => boolean;
}

export class AppAcks {
  private readonly waiting = new Map<number, Awaited>();

  constructor(private readonly log: Logger) {}

  static wanted(applicationAckType: string): boolean {
    return applicationAckType === 'AL' || applicationAckType === 'SU' || applicationAckType === 'ER';
  }

  expect(messageId: number, subject: AckSubject, condition: string, authoritative: string, send: (frame: Buffer) => boolean): void {
    this.waiting.set(messageId, { subject, condition, authoritative, send });
  }

  /** A delivery settled; `code` is the system of record's answer (AA, AE, AR). */
  settled(messageId: number, target: string, code: 'AA' | 'AE' | 'AR'): void {
    const w = this.waiting.get(messageId);
    if (!w || w.authoritative !== target) return;
    this.waiting.delete(messageId);
    const due = w.condition === 'AL' || (w.condition === 'SU' && code === 'AA') || (w.condition === 'ER' && code !== 'AA');
    if (!due) return;
    const sent = w.send(encodeFrame(buildAck(w.subject, code).bytes));
    if (!sent) this.log.info({ controlId: w.subject.header?.controlId, code }, 'application ACK not sent: the sender\'s connection is closed');
  }
}
