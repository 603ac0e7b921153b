/**
 * From a received frame to its acknowledgements: decode (a batch is split into its messages),
 * route by the HL7 rules, store with the deliveries the route asks for, and only then answer.
 * A frame that cannot be decoded gets AR/CR with an ERR segment; so does a message this adapter
 * must not take (message-checks.ts), each message of a batch whose counts disagree with what
 * came or cannot be checked (batch-counts.ts), and a message no rule takes (error 200/201); a
 * store failure gets AE/CE; a resend gets the positive ACK again and is not processed again
 * (and, in enhanced mode, the application ACK it asks for, once the first copy's authoritative
 * delivery has settled). A query is not stored: it goes to the legacy inbound at once and its
 * answer (with the data) goes back (QueryRelay). Every answer is counted: metrics, and the
 * per-minute intake counts behind /api/hl7/stats.
 */
import {
  buildAck,
  decideAck,
  decodeBatch,
  decodeMessage,
  encodeFrame,
  hl7Error,
  isBatch,
  isQuery,
  type AckOutcome,
  type AckSubject,
  type Hl7Error,
  type Hl7Message,
  withoutLeadingWhitespace,
} from '@ficus/hl7-protocol';
import type { Logger } from '@ficus/contracts';
import type { BatchAckMode } from '../config.js';
import type { AdapterMetrics } from '../ops/metrics.js';
import { deliveriesFor, type Hl7Route, type Hl7Router } from '../routing/hl7-router.js';
import { otherPatientKeysOf, patientKeyOf, sendingFacilityKey } from '../routing/order-keys.js';
import type { MessageRecord, MessageStore, StoreOutcome } from '../store/message-store.js';
import { AppAcks, settledAnswer } from './app-acks.js';
import { asBatch, emptyBatchAnswer, type BatchShape } from './batch-answers.js';
import { batchCountRefusal } from './batch-counts.js';
import { ambiguousMrnRefusal, headerRefusal, PRODUCTION_ONLY, type IntakePolicy } from './message-checks.js';
import type { QueryRelay } from './query-relay.js';
import type { IntakeOutcome, IntakeStats } from './intake-stats.js';

/** Sends a frame later on the connection a message came in on; false once it is closed. */
export type ReplyLater = (frame: Buffer) => boolean;

interface MessageUnit {
  kind: 'message';
  m: Hl7Message;
  route: Hl7Route;
  record: MessageRecord;
}

/** A query, to pass to this legacy upstream while the sender waits. */
interface QueryUnit {
  kind: 'query';
  m: Hl7Message;
  raw: Buffer;
  upstream: string;
}

/** One message of a frame: to store, to ask legacy, to refuse with this error, or (an ACK) to leave unanswered. */
type Unit = MessageUnit | QueryUnit | { kind: 'refuse'; subject: AckSubject | undefined; error: Hl7Error; raw: Buffer } | { kind: 'unanswered-ack'; m: Hl7Message };

/** What one frame holds; for a batch, its envelope, for an answer in the same shape. */
interface FrameUnits {
  units: Unit[];
  batch?: BatchShape;
}

export interface IntakeOptions {
  store: MessageStore;
  router: () => Hl7Router;
  partitions: number;
  metrics: AdapterMetrics;
  log: Logger;
  appAcks: AppAcks;
  stats: IntakeStats;
  queries: QueryRelay;
  /** default `frames` */
  batchAcks?: BatchAckMode;
  /** what is taken (HL7_PROCESSING_IDS, HL7_MRN_AUTHORITIES); default production only, no authority named */
  policy?: IntakePolicy;
}

/** Refused frames kept for diagnosis per minute: a sender spewing garbage must not fill the store. */
const REJECTS_KEPT_PER_MINUTE = 120;

export class Intake {
  private rejectWindow = 0;
  private rejectsKept = 0;

  constructor(private readonly o: IntakeOptions) {}

  private keepReject(): boolean {
    const minute = Math.floor(Date.now() / 60_000);
    if (minute !== this.rejectWindow) {
      this.rejectWindow = minute;
      this.rejectsKept = 0;
    }
    return ++this.rejectsKept <= REJECTS_KEPT_PER_MINUTE;
  }

  /** The ACK frames to send for one received frame, in order (none when the sender asked for none). */
  async frame(payload: Buffer, peer: string | null, later: ReplyLater = () => false): Promise<Buffer[]> {
    return (await this.frames([payload], peer, later))[0]!;
  }

  /**
   * The ACK frames for each of several frames of one connection, in order. Their messages (a
   * batch file's too) are stored together, in one statement, in the order received: a sender
   * that does not wait for each ACK, or sends batch files, gets one commit for all it sent.
   */
  async frames(payloads: Buffer[], peer: string | null, later: ReplyLater = () => false): Promise<Buffer[][]> {
    const frames = payloads.map((p) => this.units(p, peer));
    const toStore = frames.flatMap((f) => f.units).filter((u): u is MessageUnit => u.kind === 'message');
    const outcomes = toStore.length > 0 ? await this.o.store.storeAll(toStore.map((u) => u.record)) : [];
    let next = 0;
    const answers: Buffer[][] = [];
    for (const f of frames) {
      // the answers to each message of the frame (none, one, or a commit ACK and an application ACK)
      const each: Buffer[][] = [];
      for (const u of f.units) {
        if (u.kind === 'refuse') each.push([await this.refuse(u.subject, u.error, u.raw, peer)]);
        else if (u.kind === 'query') each.push(await this.query(u));
        else if (u.kind === 'unanswered-ack') each.push(this.unansweredAck(u.m, peer));
        else {
          const outcome = outcomes[next++]!;
          if (!(outcome instanceof Error) && outcome.kind === 'duplicate' && outcome.differs) each.push([await this.reusedControlId(u, outcome.id, peer)]);
          else each.push(this.answer(u, outcome, later));
        }
      }
      if (f.batch && f.units.length === 0) {
        // an empty batch (a sender's keep-alive, or a day with nothing to send) is owed an answer too: an empty acknowledgement batch
        this.o.log.info({ peer }, 'an HL7 batch with no messages: answered with an empty acknowledgement batch');
        answers.push([emptyBatchAnswer(f.batch)]);
        continue;
      }
      answers.push(f.batch && this.o.batchAcks === 'batch' ? asBatch(f.batch, each) : each.flat().map((m) => encodeFrame(m)));
    }
    return answers;
  }

  /**
   * What one frame holds: one message, or a batch's messages; each to store, or to refuse. Line
   * breaks, spaces and tabs in front of its first segment are no part of it: the message is
   * stored, passed on and kept with the refused frames without them.
   */
  private units(received: Buffer, peer: string | null): FrameUnits {
    const payload = withoutLeadingWhitespace(received);
    if (isBatch(payload)) {
      const decoded = decodeBatch(payload);
      if (!decoded.ok) return { units: [{ kind: 'refuse', subject: undefined, error: decoded.error, raw: payload }] };
      const { batch } = decoded;
      const miscounted = batchCountRefusal(batch);
      if (miscounted) this.o.log.warn({ peer, messages: batch.messages.length, reason: miscounted.message }, 'HL7 batch refused: its counts or trailers do not show that every message came');
      // nothing in it to answer: the refusal is answered as an unreadable batch's is
      if (miscounted && batch.messages.length === 0) return { units: [{ kind: 'refuse', subject: undefined, error: miscounted, raw: payload }] };
      // each message of a batch is stored and answered on its own, in order; one may fail alone
      const units = batch.messages.map((member, i): Unit => {
        if (!member.ok) return { kind: 'refuse', subject: member.received, error: member.error, raw: payload };
        // the bytes it was read from, as a message sent alone is kept: a batch's UTF-8 byte order mark
        // (which outweighs MSH-18) stays in front; its text written anew in the charset read dropped
        // the mark and kept an MSH-18 of 8859/1, so legacy and the services read UTF-8 bytes as Latin-1
        const raw = batch.messageFrames[i]!;
        if (miscounted && member.message.header.messageType !== 'ACK') return { kind: 'refuse', subject: member.message, error: miscounted, raw };
        return this.messageUnit(member.message, raw, peer);
      });
      const groupOf = batch.batches.flatMap((g, i) => g.messages.map(() => i));
      const first = batch.messages.find((m) => m.ok);
      return { units, batch: { fileHeader: batch.fileHeader, groups: batch.batches.map((g) => g.header), groupOf, charset: first?.ok ? first.message.charset : undefined } };
    }
    const decoded = decodeMessage(payload);
    if (!decoded.ok) return { units: [{ kind: 'refuse', subject: decoded.received, error: decoded.error, raw: payload }] };
    return { units: [this.messageUnit(decoded.message, payload, peer)] };
  }

  private messageUnit(m: Hl7Message, raw: Buffer, peer: string | null): Unit {
    const h = m.header;
    // an acknowledgement is never acknowledged (HL7 v2 2.9.2): two systems that ACK ACKs ping-pong forever
    if (h.messageType === 'ACK') return { kind: 'unanswered-ack', m };
    const policy = this.o.policy ?? PRODUCTION_ONLY;
    const refused = headerRefusal(m, policy);
    if (refused) return { kind: 'refuse', subject: m, error: refused, raw };
    const route = this.o.router().route(h);
    if (!route) {
      const known = this.o.router().rules.some((r) => !r.match.messageTypes || r.match.messageTypes.includes(h.messageType));
      const error = known
        ? hl7Error(201, `no rule takes event ${h.triggerEvent} of ${h.messageType}`, { segment: 'MSH', sequence: 1, field: 9, component: 2 })
        : hl7Error(200, `no rule takes message type ${h.messageType}`, { segment: 'MSH', sequence: 1, field: 9, component: 1 });
      return { kind: 'refuse', subject: m, error, raw };
    }
    if (isQuery(h.messageType)) {
      // only the legacy system answers queries: the new services take messages from queues
      if (!route.legacyUpstream) {
        const error = hl7Error(200, `rule "${route.rule.id}" sends ${h.messageType} to ${route.rule.target} (mode ${route.rule.mode}), which answers no queries; queries are answered by the legacy system only`, { segment: 'MSH', sequence: 1, field: 9, component: 1 });
        return { kind: 'refuse', subject: m, error, raw };
      }
      return { kind: 'query', m, raw, upstream: route.legacyUpstream };
    }
    const ambiguous = ambiguousMrnRefusal(m, policy);
    if (ambiguous) return { kind: 'refuse', subject: m, error: ambiguous, raw };
    const patientKey = patientKeyOf(m);
    const commit = decideAck(h, 'accepted');
    const record: MessageRecord = {
      sendingApplication: h.sendingApplication.namespaceId,
      sendingFacility: sendingFacilityKey(h.sendingFacility),
      receivingApplication: h.receivingApplication.namespaceId,
      receivingFacility: h.receivingFacility.namespaceId,
      controlId: h.controlId,
      messageType: h.messageType,
      triggerEvent: h.triggerEvent,
      version: h.version,
      processingId: h.processingId,
      acceptAckType: h.acceptAckType,
      applicationAckType: h.applicationAckType,
      patientKey,
      charset: m.charset,
      raw,
      peer,
      ruleId: route.rule.id,
      mode: route.rule.mode,
      emergency: route.emergency,
      // the ACK it is answered with once stored: none when MSH-15 (NE, ER) asks for none (until 2026-12-06 CA was kept)
      ackCode: commit.send ? commit.code : 'none',
      deliveries: deliveriesFor(route, patientKey ?? `${sendingFacilityKey(h.sendingFacility)}|${h.controlId}`, this.o.partitions, otherPatientKeysOf(m)),
    };
    return { kind: 'message', m, route, record };
  }

  /** The answer to a frame too large to take (the first bytes may still name its control id). */
  oversize(head: Buffer, limit: number, peer: string | null): Buffer {
    const decoded = decodeMessage(head);
    const received = decoded.ok ? decoded.message : decoded.received;
    this.o.metrics.messages.inc({ direction: 'inbound', type: received.header?.messageType || 'unknown', trigger: received.header?.triggerEvent || '', outcome: 'rejected' });
    this.o.log.warn({ peer, controlId: received.header?.controlId, limit }, 'HL7 frame over the size limit: refused, connection closed');
    // answered even when MSH-15 asks for no answer: the connection closes, the sender must know why
    return encodeFrame(this.ack(received, 'rejected', 'rejected', hl7Error(207, `the message is larger than ${limit} bytes`), true)!);
  }

  /** The ACKs of a message once the store has answered (or failed). */
  private answer(u: MessageUnit, outcome: StoreOutcome | Error, later: ReplyLater): Buffer[] {
    const { m } = u;
    const h = m.header;
    const labels = { direction: 'inbound' as const, type: h.messageType, trigger: h.triggerEvent };
    if (outcome instanceof Error) {
      this.o.metrics.messages.inc({ ...labels, outcome: 'store-error' });
      this.o.log.error({ controlId: h.controlId, type: h.messageType, err: outcome.message }, 'cannot store an HL7 message: answered AE/CE, the sender will resend');
      const ack = this.ack(m, 'error', 'store-error', hl7Error(207, 'the message could not be stored; send it again'));
      return ack ? [ack] : [];
    }
    const kind = outcome.kind === 'stored' ? 'accepted' : 'duplicate';
    this.o.metrics.messages.inc({ ...labels, outcome: kind });
    if (outcome.kind === 'duplicate') {
      this.o.log.info({ controlId: h.controlId, type: h.messageType, trigger: h.triggerEvent, id: outcome.id }, 'resent HL7 message: acknowledged again, not processed again');
    }
    const acks: Buffer[] = [];
    const commit = this.ack(m, 'accepted', kind);
    if (commit) acks.push(commit);
    if (decideAck(h, 'accepted').mode === 'enhanced' && AppAcks.wanted(h.applicationAckType)) {
      if (outcome.kind === 'stored') {
        // the system of record answers: legacy while it stays authoritative, else the new service
        const first = u.record.deliveries[0]!;
        this.o.appAcks.expect(outcome.id, m, h.applicationAckType, { target: first.target, partition: first.partition, status: 'pending' }, later);
      } else if (outcome.authoritative) {
        const a = outcome.authoritative;
        const settled = settledAnswer(a.target, a.status, a.answer);
        // settled before: the sender missed the application ACK (a restart, a closed connection); it comes now
        const app = settled && this.o.appAcks.message(m, h.applicationAckType, settled);
        if (app) acks.push(app);
        else if (!settled) this.o.appAcks.expect(outcome.id, m, h.applicationAckType, a, later);
      }
    }
    return acks;
  }

  /**
   * Another message under a stored message's (sending facility, control id): the contract keeps
   * one message per pair, and acknowledging this one as a resend would drop it unseen. So it is
   * refused (AR or CR, error 205, whatever MSH-15 asked: the sender must hear of it), kept with
   * the refused frames, and counted apart; the sender can send it again under a new control id.
   */
  private async reusedControlId(u: MessageUnit, storedId: number, peer: string | null): Promise<Buffer> {
    const h = u.m.header;
    this.o.metrics.messages.inc({ direction: 'inbound', type: h.messageType, trigger: h.triggerEvent, outcome: 'duplicate-differs' });
    this.o.log.warn({ peer, controlId: h.controlId, type: h.messageType, trigger: h.triggerEvent, id: storedId }, 'HL7 control id reused with other content: refused (205), not stored; check the sender');
    const error = hl7Error(205, `control id ${h.controlId} of sending facility "${u.record.sendingFacility}" was used by another message (stored as message ${storedId}); this one is not stored: send it under a new control id`, { segment: 'MSH', sequence: 1, field: 10 });
    if (this.keepReject()) await this.o.store.reject(peer, error.code, error.message, h.controlId, u.record.raw).catch(() => undefined);
    return this.ack(u.m, 'rejected', 'rejected', error, true)!;
  }

  /** An ACK sent to the listener: nothing here sent the message it answers; not stored, not answered. */
  private unansweredAck(m: Hl7Message, peer: string | null): Buffer[] {
    const h = m.header;
    this.o.metrics.messages.inc({ direction: 'inbound', type: h.messageType, trigger: h.triggerEvent, outcome: 'ack-ignored' });
    this.o.stats.count('', 'ack-ignored');
    this.o.log.warn({ peer, controlId: h.controlId, ackedControlId: m.get('MSA-2'), code: m.get('MSA-1') }, 'an ACK came in on the HL7 listener: not stored, not answered (an ACK is never acknowledged); check what the sender thinks it answers');
    return [];
  }

  /** A query's answer from legacy, as it came (unframed); AE when there is none. */
  private async query(u: QueryUnit): Promise<Buffer[]> {
    const h = u.m.header;
    const labels = { direction: 'inbound' as const, type: h.messageType, trigger: h.triggerEvent };
    const started = performance.now();
    const outcome = await this.o.queries.ask(u.upstream, u.raw, h.controlId);
    const ms = Math.round(performance.now() - started);
    if (outcome.kind === 'failed') {
      this.o.metrics.messages.inc({ ...labels, outcome: 'query-failed' });
      this.o.log.warn({ controlId: h.controlId, type: h.messageType, trigger: h.triggerEvent, upstream: u.upstream, ms, err: outcome.error.message }, 'HL7 query not answered by legacy: answered AE, the sender may ask again');
      const ack = this.ack(u.m, 'error', 'query-failed', outcome.error);
      return ack ? [ack] : [];
    }
    this.o.metrics.messages.inc({ ...labels, outcome: 'query-answered' });
    // the sender's answer is legacy's, but it is an answer sent like an ACK: counted alike in the stats and the metric
    this.o.stats.count(outcome.code, 'query-answered');
    this.o.metrics.acks.inc({ code: outcome.code });
    this.o.log.info({ controlId: h.controlId, type: h.messageType, trigger: h.triggerEvent, upstream: u.upstream, ms, answer: outcome.code }, 'HL7 query answered by legacy');
    return [outcome.payload];
  }

  private async refuse(received: AckSubject | undefined, error: Hl7Error, raw: Buffer, peer: string | null): Promise<Buffer> {
    const h = received?.header;
    this.o.metrics.messages.inc({ direction: 'inbound', type: h?.messageType || 'unknown', trigger: h?.triggerEvent || '', outcome: 'rejected' });
    this.o.log.warn({ peer, controlId: h?.controlId, type: h?.messageType, code: error.code }, `HL7 message refused: ${error.text}`);
    if (this.keepReject()) await this.o.store.reject(peer, error.code, error.message, h?.controlId, raw).catch(() => undefined);
    // a frame that is not HL7 at all gets an AR whatever it asked: the sender must hear of it
    return this.ack(received, 'rejected', 'rejected', error, true)!;
  }

  /** The ACK owed for an outcome (unframed), counted; undefined when MSH-15 asks for none (unless `always`). */
  private ack(received: AckSubject | undefined, ack: AckOutcome, outcome: IntakeOutcome, error?: Hl7Error, always = false): Buffer | undefined {
    const decision = decideAck(received?.header ?? {}, ack);
    if (!decision.send && !always) {
      this.o.stats.count('', outcome);
      return undefined;
    }
    this.o.stats.count(decision.code, outcome);
    this.o.metrics.acks.inc({ code: decision.code });
    return buildAck(received, decision.code, error ? { error } : {}).bytes;
  }
}
