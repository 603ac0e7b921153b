/**
 * The legacy system's HL7 inbound: an MLLP listener (default port 2576) that applies ADT and
 * ORU messages to the legacy schema and answers each message with one ACK, after the commit,
 * and answers a patient query (QRY^A19) with ADR^A19.
 *
 * Per connection: frames are decoded by @ficus/hl7-protocol's MllpDecoder (garbage, partial
 * and broken frames are skipped by it), processed strictly one after the other, and answered
 * in the order they came. Connections stay open for as many messages as the sender likes; one
 * idle for `idleTimeoutMs` is closed. A frame over `maxFrameBytes` is answered AR and the
 * connection closed. A batch (FHS/BHS) is answered with one batch of ACKs, one per message.
 */
import net from 'node:net';
import {
  buildAck,
  decideAck,
  decodeBatch,
  decodeMessage,
  DEFAULT_DELIMITERS,
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  encodeMessageBytes,
  encodingCharacters,
  escapeValue,
  hl7Error,
  isBatch,
  isQuery,
  MllpDecoder,
  newControlId,
  type AckSubject,
  type BatchHeader,
  type Hl7Ack,
  type Hl7Batch,
  type Hl7Delimiters,
  type MessageDecodeResult,
  type MllpEvent,
} from '@ficus/hl7-protocol';
import type pg from 'pg';
import { createLogger, type Logger } from '@ficus/contracts';
import { InboundProcessor } from './inbound-processor.js';

export const DEFAULT_HL7_PORT = 2576;
export const DEFAULT_HL7_IDLE_TIMEOUT_MS = 300_000;

export interface Hl7InboundOptions {
  /** the caller owns the pool: close() does not end it */
  pool: pg.Pool;
  /** 0 (the default here) picks a free port */
  port?: number;
  /** default 127.0.0.1 */
  host?: string;
  /** defaults to a silent logger */
  log?: Logger;
  /** largest message accepted (default 8 MiB); a larger one is answered AR and its connection closed */
  maxFrameBytes?: number;
  /** a connection with nothing received or sent for this long is closed (default 5 minutes; 0: never) */
  idleTimeoutMs?: number;
  /** frames received but not yet answered on one connection before reading from it pauses (default 64) */
  maxPendingFrames?: number;
  /** on close(), time given to messages being applied before their connections are cut (default 10 s) */
  shutdownTimeoutMs?: number;
}

export interface RunningHl7Inbound {
  port: number;
  host: string;
  /** open connections right now */
  connections(): number;
  /** stops accepting, lets the messages being applied finish and answer, closes every connection */
  close(): Promise<void>;
}

export async function startHl7Inbound(options: Hl7InboundOptions): Promise<RunningHl7Inbound> {
  const log = options.log ?? createLogger('legacy-his', { level: 'silent' });
  const processor = new InboundProcessor(options.pool, log);
  const settings: ConnectionSettings = {
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_HL7_IDLE_TIMEOUT_MS,
    maxPendingFrames: Math.max(1, options.maxPendingFrames ?? 64),
  };
  const open = new Set<Hl7Connection>();
  let nextId = 1;
  // half-open: a sender that shuts down its side after the last message still gets the ACKs
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    const connection = new Hl7Connection(nextId++, socket, processor, log, settings);
    open.add(connection);
    socket.once('close', () => open.delete(connection));
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: options.port ?? 0, host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => log.error({ errCode: (e as NodeJS.ErrnoException).code }, 'HL7 inbound listener error'));
  const port = (server.address() as net.AddressInfo).port;
  log.info({ port }, 'HL7 inbound (MLLP) listening');

  let closing: Promise<void> | undefined;
  return {
    port,
    host,
    connections: () => open.size,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        const timeout = options.shutdownTimeoutMs ?? 10_000;
        await Promise.all([...open].map((c) => c.shutdown(timeout)));
        await stopped;
      })();
      return closing;
    },
  };
}

interface ConnectionSettings {
  maxFrameBytes: number;
  idleTimeoutMs: number;
  maxPendingFrames: number;
}

/** Milliseconds between ending our side and cutting a peer that does not close its own */
const LINGER_MS = 2_000;

class Hl7Connection {
  private readonly decoder: MllpDecoder;
  /** the frames of this connection, processed one after the other */
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  /** no further frame is taken: after an oversize frame, the peer's end, or shutdown */
  private draining = false;
  /** frames queued but not yet started are dropped (shutdown): unanswered, so the sender sends them again */
  private stopping = false;
  private readonly remote: string;

  constructor(
    private readonly id: number,
    private readonly socket: net.Socket,
    private readonly processor: InboundProcessor,
    private readonly log: Logger,
    private readonly settings: ConnectionSettings,
  ) {
    this.decoder = new MllpDecoder({ maxFrameBytes: settings.maxFrameBytes });
    this.remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.setKeepAlive(true, 60_000);
    if (settings.idleTimeoutMs > 0) socket.setTimeout(settings.idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.onEvents(this.decoder.push(chunk)));
    socket.on('end', () => {
      this.onEvents(this.decoder.end());
      this.finish();
    });
    socket.on('timeout', () => this.onIdle());
    socket.on('error', (e: NodeJS.ErrnoException) => this.log.debug({ conn: this.id, errCode: e.code }, 'HL7 connection error'));
    socket.on('close', () => this.log.debug({ conn: this.id }, 'HL7 connection closed'));
    this.log.debug({ conn: this.id, remote: this.remote }, 'HL7 connection opened');
  }

  /** Stop taking frames, let the one being applied answer, then close (cut after `timeoutMs`). */
  shutdown(timeoutMs: number): Promise<void> {
    this.stopping = true;
    this.finish();
    return new Promise<void>((resolve) => {
      if (this.socket.destroyed) return resolve();
      const cut = setTimeout(() => this.socket.destroy(), timeoutMs);
      cut.unref();
      this.socket.once('close', () => {
        clearTimeout(cut);
        resolve();
      });
    });
  }

  private onEvents(events: MllpEvent[]): void {
    for (const event of events) {
      if (this.draining) {
        if (event.type === 'frame') this.log.warn({ conn: this.id }, 'HL7 frame after the connection began closing: not processed');
        continue;
      }
      switch (event.type) {
        case 'frame':
          this.enqueue(() => this.onFrame(event.payload));
          break;
        case 'garbage':
          this.log.warn({ conn: this.id, bytes: event.bytes }, 'bytes outside an MLLP frame skipped');
          break;
        case 'discarded':
          this.log.warn({ conn: this.id, reason: event.reason, bytes: event.bytes }, 'incomplete MLLP frame discarded');
          break;
        case 'oversize': {
          // answer it (after the frames before it), then close: the rest of it is not read
          const head = event.head;
          this.enqueue(() => this.onOversize(head, event.limit));
          this.finish();
          break;
        }
      }
    }
  }

  private enqueue(job: () => Promise<void>): void {
    this.pending++;
    if (this.pending >= this.settings.maxPendingFrames) this.socket.pause();
    this.queue = this.queue
      .then(() => (this.stopping ? undefined : job()))
      .catch((e: unknown) => {
        // a bug, not a message problem (those are answered): cut the connection unanswered, so
        // that the sender sends the message again rather than believe it was applied
        // the error's message is left out: it could quote a value of the message
        const where = (e as Error).stack?.split('\n').slice(1, 6).join('\n');
        this.log.error({ conn: this.id, errName: (e as Error).name, where }, 'HL7 frame handling failed: connection cut');
        this.socket.destroy();
      })
      .finally(() => {
        this.pending--;
        if (!this.draining && this.pending < this.settings.maxPendingFrames) this.socket.resume();
      });
  }

  /** No more frames: close our side once every frame taken has been answered. */
  private finish(): void {
    if (this.draining) return;
    this.draining = true;
    void this.queue.then(() => {
      if (this.socket.destroyed) return;
      this.socket.end();
      setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
    });
  }

  private onIdle(): void {
    if (this.pending > 0) {
      // a slow database is not an idle connection; count again from now
      this.socket.setTimeout(this.settings.idleTimeoutMs);
      return;
    }
    this.log.info({ conn: this.id, idleMs: this.settings.idleTimeoutMs }, 'idle HL7 connection closed');
    this.finish();
  }

  private async onFrame(payload: Buffer): Promise<void> {
    if (isBatch(payload)) return this.onBatch(payload);
    const ack = await this.answer(decodeMessage(payload));
    if (ack) this.write(ack.bytes);
  }

  /** One message's ACK, or undefined when its MSH-15 asks for none (enhanced mode) */
  private async answer(decoded: MessageDecodeResult): Promise<Hl7Ack | undefined> {
    const started = performance.now();
    if (!decoded.ok) {
      const h = decoded.received.header ?? {};
      const decision = decideAck(h, 'rejected');
      this.log.warn(
        { conn: this.id, controlId: h.controlId, type: typeOf(h), outcome: 'undecodable', ack: decision.send ? decision.code : 'none', errCode: decoded.error.code },
        'HL7 message refused',
      );
      return decision.send ? buildAck(decoded.received, decision.code, { error: decoded.error }) : undefined;
    }
    const message = decoded.message;
    if (isQuery(message.header.messageType)) {
      const answer = await this.processor.query(message);
      this.log.info({ conn: this.id, controlId: message.header.controlId, type: typeOf(message.header), outcome: 'query', ms: Math.round(performance.now() - started) }, 'HL7 query answered');
      return answer;
    }
    const outcome = await this.processor.process(message);
    const decision = decideAck(message.header, outcome.kind);
    const fields = {
      conn: this.id,
      controlId: message.header.controlId,
      type: typeOf(message.header),
      outcome: outcome.duplicate ? 'duplicate' : outcome.kind === 'accepted' ? 'applied' : outcome.kind,
      ack: decision.send ? decision.code : 'none',
      errCode: outcome.errors[0]?.code,
      ms: Math.round(performance.now() - started),
    };
    if (outcome.kind === 'accepted') this.log.info(fields, 'HL7 message');
    else this.log.warn(fields, 'HL7 message refused');
    if (!decision.send) return undefined;
    return buildAck(message, decision.code, outcome.errors.length > 0 ? { error: outcome.errors } : {});
  }

  private async onBatch(payload: Buffer): Promise<void> {
    const decoded = decodeBatch(payload);
    if (!decoded.ok) {
      this.log.warn({ conn: this.id, outcome: 'undecodable batch', ack: 'AR', errCode: decoded.error.code }, 'HL7 batch refused');
      this.write(buildAck(undefined, 'AR', { error: decoded.error }).bytes);
      return;
    }
    const acks: (Hl7Ack | undefined)[][] = [];
    for (const group of decoded.batch.batches) {
      const answered: (Hl7Ack | undefined)[] = [];
      for (const message of group.messages) answered.push(await this.answer(message));
      acks.push(answered);
    }
    for (const warning of decoded.batch.warnings) this.log.warn({ conn: this.id, warning }, 'HL7 batch envelope');
    this.write(batchOfAcks(decoded.batch, acks));
  }

  private async onOversize(head: Buffer, limit: number): Promise<void> {
    const decoded = decodeMessage(head);
    const subject: AckSubject = decoded.ok ? decoded.message : decoded.received;
    const error = hl7Error(104, `the message is larger than the legacy HL7 inbound accepts (${limit} bytes)`);
    const decision = decideAck(subject.header ?? {}, 'rejected');
    this.log.warn({ conn: this.id, controlId: subject.header?.controlId, outcome: 'oversize', ack: decision.code, limit }, 'HL7 message refused: too large, connection closed');
    // an oversize message is answered even when MSH-15 asks for no answer: the connection closes
    this.write(buildAck(subject, decision.code, { error }).bytes);
  }

  private write(bytes: Buffer): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.write(encodeFrame(bytes));
  }
}

function typeOf(h: { messageType?: string; triggerEvent?: string }): string | undefined {
  if (!h.messageType) return undefined;
  return h.triggerEvent ? `${h.messageType}^${h.triggerEvent}` : h.messageType;
}

/**
 * The answer to a batch: a batch of ACKs in the same envelope (FHS when the batch had one, a
 * BHS per group, BTS with the count of ACKs), BHS-12 naming the received BHS-11.
 */
export function batchOfAcks(batch: Hl7Batch, acks: (Hl7Ack | undefined)[][], now = new Date()): Buffer {
  const d = batch.fileHeader?.delimiters ?? batch.batches.find((g) => g.header)?.header?.delimiters ?? DEFAULT_DELIMITERS;
  const lines: string[] = [];
  if (batch.fileHeader) lines.push(envelopeHeader('FHS', batch.fileHeader, d, now));
  batch.batches.forEach((group, i) => {
    const answered = (acks[i] ?? []).filter((a): a is Hl7Ack => a !== undefined);
    lines.push(envelopeHeader('BHS', group.header, d, now));
    for (const ack of answered) lines.push(...ack.text.split('\r').filter((s) => s !== ''));
    lines.push(`BTS${d.field}${answered.length}`);
  });
  if (batch.fileHeader) lines.push(`FTS${d.field}${batch.batches.length}`);
  const text = lines.map((l) => l + '\r').join('');
  const charset = acks.flat().find((a) => a !== undefined)?.charset;
  try {
    return encodeMessageBytes(text, charset);
  } catch {
    return encodeMessageBytes(text);
  }
}

function envelopeHeader(segment: 'FHS' | 'BHS', received: BatchHeader | undefined, d: Hl7Delimiters, now: Date): string {
  const e = (v: string) => escapeValue(v, d);
  const hd = (h: { namespaceId: string; universalId: string; universalIdType: string } | undefined) => {
    const parts = h ? [h.namespaceId, h.universalId, h.universalIdType].map(e) : [];
    while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
    return parts.join(d.component);
  };
  const fields = [
    segment,
    encodingCharacters(d),
    hd(received?.receivingApplication),
    hd(received?.receivingFacility),
    hd(received?.sendingApplication),
    hd(received?.sendingFacility),
    dateTime(now),
    '',
    '',
    '',
    e(newControlId()),
    e(received?.controlId ?? ''),
  ];
  while (fields.length > 2 && fields[fields.length - 1] === '') fields.pop();
  return fields.join(d.field);
}

/** YYYYMMDDHHMMSS+ZZZZ, local time */
function dateTime(t: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const offset = -t.getTimezoneOffset();
  const abs = Math.abs(offset);
  return (
    `${p(t.getFullYear(), 4)}${p(t.getMonth() + 1)}${p(t.getDate())}${p(t.getHours())}${p(t.getMinutes())}${p(t.getSeconds())}` +
    `${offset < 0 ? '-' : '+'}${p(Math.floor(abs / 60))}${p(abs % 60)}`
  );
}
