/**
 * The MLLP listener: TCP (or TLS) connections, each read through the one MLLP framer, frames
 * handled in order (those that arrived together, stored together), one ACK per message
 * written back in that order. Garbage between frames is
 * skipped; an oversize frame is refused and the connection closed; an idle connection is
 * closed; when the store falls behind, or the sender does not read its ACKs, the connection
 * stops being read (back-pressure) instead of buffering without bound. A sender that closes its
 * side after its last message (half-close) still gets every ACK before the adapter closes its own.
 *
 * However a connection comes to close (the sender's end, an oversize frame, idleness, the
 * listener closing), it closes the same way: no new frame is taken, the frames in hand are
 * stored and answered (an AR last, for an oversize frame), then the adapter ends its side and
 * reads on, dropping what comes, until the sender ends its own or a linger runs out. A stored
 * message is never left without its ACK, and an unread peer never keeps a socket open.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { MllpDecoder } from '@ficus/hl7-protocol';
import type { Logger } from '@ficus/contracts';
import type { Intake } from '../intake/intake.js';
import type { AdapterMetrics } from '../ops/metrics.js';

export interface ListenerOptions {
  intake: Intake;
  metrics: AdapterMetrics;
  log: Logger;
  maxFrameBytes: number;
  idleTimeoutMs: number;
  /** frames waiting on one connection before it stops being read */
  maxQueuedFrames: number;
  /** on close(), how long the frames in hand may take to be stored and answered before connections are cut (default 5 s) */
  drainMs?: number;
  tls?: TlsOptions;
}

interface Queued {
  payload: Buffer;
  at: number;
}

/** after our last answer is flushed: a peer silent this long without ending its side is cut */
const LINGER_MS = 2_000;
/** after ending our side: a peer that goes on sending is cut after this long (or the idle timeout, if longer) whatever */
const MAX_LINGER_MS = 30_000;

class Connection {
  private readonly decoder: MllpDecoder;
  private readonly queue: Queued[] = [];
  private working = false;
  /** too many frames wait for the store */
  private inputFull = false;
  /** the sender is not taking its ACKs: they wait in our write buffer until 'drain' */
  private outputFull = false;
  /** new frames are taken; once false, what comes is read and dropped, and the connection closes when the frames in hand are answered */
  private taking = true;
  /** written last, before our end (the AR of an oversize frame) */
  private farewell: Buffer | undefined;
  /** our side is ended */
  private ended = false;
  /** bytes read and dropped after frames stopped being taken */
  private dropped = 0;

  /** for answers that come later (application ACKs): written if the connection is still open */
  private readonly later = (frame: Buffer): boolean => {
    if (this.socket.destroyed || !this.socket.writable) return false;
    this.socket.write(frame);
    // written even while reading is stopped (the ACK is owed), but it counts toward the bound
    this.checkOutput();
    return true;
  };

  constructor(
    private readonly socket: Socket,
    private readonly o: ListenerOptions,
    private readonly peer: string,
  ) {
    this.decoder = new MllpDecoder({ maxFrameBytes: o.maxFrameBytes });
    socket.setNoDelay(true);
    socket.setTimeout(o.idleTimeoutMs, () => {
      if (this.ended) {
        socket.destroy();
        return;
      }
      o.log.info({ peer }, 'idle MLLP connection closed');
      this.finish();
    });
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    socket.on('end', () => {
      this.received(null);
      this.finish();
    });
    socket.on('error', (err) => o.log.debug({ peer, err: err.message }, 'MLLP connection error'));
    socket.on('drain', () => {
      if (!this.outputFull) return;
      this.outputFull = false;
      this.updateReading();
      void this.work();
    });
  }

  /** The listener closes: the frames in hand are stored and answered, then the connection closes. */
  shutdown(): void {
    this.finish();
  }

  /**
   * Stops handling frames once the ACKs written exceed what the socket buffers (its high-water
   * mark): a sender that never reads would otherwise make them pile up here. Past that mark
   * write() has returned false, so 'drain' is due once the buffer empties.
   */
  private checkOutput(): void {
    if (this.outputFull || this.socket.writableLength < this.socket.writableHighWaterMark) return;
    this.outputFull = true;
    this.o.metrics.backPressure.inc();
    this.updateReading();
  }

  /**
   * Reads while neither the frames waiting nor the ACKs unwritten are over their bound. Once no
   * frame is taken, reads always: what comes is dropped, and the peer's end can then arrive (a
   * paused socket never sees it, and stays open for ever with the peer's bytes unread).
   */
  private updateReading(): void {
    if (this.taking && (this.inputFull || this.outputFull)) this.socket.pause();
    else this.socket.resume();
  }

  private received(chunk: Buffer | null): void {
    if (!this.taking) {
      this.dropped += chunk?.length ?? 0;
      return;
    }
    const events = chunk ? this.decoder.push(chunk) : this.decoder.end();
    for (const e of events) {
      switch (e.type) {
        case 'frame':
          this.queue.push({ payload: e.payload, at: performance.now() });
          break;
        case 'garbage':
          this.o.metrics.framing.inc({ incident: 'garbage' });
          this.o.log.warn({ peer: this.peer, bytes: e.bytes }, 'bytes outside an MLLP frame skipped');
          break;
        case 'discarded':
          this.o.metrics.framing.inc({ incident: `discarded-${e.reason}` });
          this.o.log.warn({ peer: this.peer, bytes: e.bytes, reason: e.reason }, 'incomplete MLLP frame discarded');
          break;
        case 'oversize':
          this.o.metrics.framing.inc({ incident: 'oversize' });
          // answered after the frames before it, whose ACKs are owed first
          this.farewell = this.o.intake.oversize(e.head, e.limit, this.peer);
          this.finish();
          return;
      }
    }
    if (!this.inputFull && this.queue.length >= this.o.maxQueuedFrames) {
      this.inputFull = true;
      this.o.metrics.backPressure.inc();
      this.updateReading();
    }
    void this.work();
  }

  /** No new frame is taken from now on; the connection closes once the frames in hand are answered. */
  private finish(): void {
    if (!this.taking) return;
    this.taking = false;
    this.inputFull = false;
    this.updateReading();
    void this.work();
  }

  private async work(): Promise<void> {
    if (this.working) return;
    this.working = true;
    try {
      // while the sender's ACKs are not taken, its frames wait: 'drain' starts this again
      while (this.queue.length > 0 && !this.outputFull) {
        // every frame in hand at once: their messages go to the store in one statement, in order
        const items = this.queue.splice(0);
        const answers = await this.o.intake.frames(
          items.map((i) => i.payload),
          this.peer,
          this.later,
        );
        // cut meanwhile (by the peer, or by the listener's close running out of time): the sender resends
        if (!this.socket.writable) return;
        // one write for all of them: a system call per ACK is the costliest part of answering
        const acks = answers.flat();
        if (acks.length > 0) this.socket.write(acks.length === 1 ? acks[0]! : Buffer.concat(acks));
        const written = performance.now();
        for (const item of items) this.o.metrics.ackSeconds.observe((written - item.at) / 1000);
        if (this.inputFull && this.queue.length <= this.o.maxQueuedFrames / 2) this.inputFull = false;
        this.checkOutput();
        this.updateReading();
      }
    } catch (e) {
      // intake answers every failure it knows; this is a bug, and the connection is not to be trusted
      this.o.log.error({ peer: this.peer, err: (e as Error).message }, 'HL7 connection failed; closing it');
      this.socket.destroy();
    } finally {
      this.working = false;
      if (!this.taking && this.queue.length === 0) this.end();
    }
  }

  /**
   * Ends our side after the last answer. The socket goes when the peer ends its own (both sides
   * ended), or when the linger runs out: reading on meanwhile lets the peer's end arrive, and
   * cutting only then spares the answers just written a reset that could destroy them unread.
   */
  private end(): void {
    if (this.ended || this.socket.destroyed) return;
    this.ended = true;
    if (this.dropped > 0) this.o.log.info({ peer: this.peer, bytes: this.dropped }, 'MLLP bytes after the connection began closing dropped; unanswered frames will be resent');
    if (this.farewell) this.socket.end(this.farewell);
    else this.socket.end();
    // until the answers are flushed, a sender slow to read them has the idle timeout, as before
    this.socket.once('finish', () => this.socket.setTimeout(Math.min(LINGER_MS, this.o.idleTimeoutMs)));
    const cut = setTimeout(() => this.socket.destroy(), Math.max(MAX_LINGER_MS, this.o.idleTimeoutMs)).unref();
    this.socket.once('close', () => clearTimeout(cut));
  }
}

export interface RunningListener {
  port: number;
  server: Server;
  /** stops accepting; the frames in hand are stored and answered (for up to `drainMs`), then every connection closes */
  close(): Promise<void>;
}

const DEFAULT_DRAIN_MS = 5_000;

export async function startListener(host: string, port: number, o: ListenerOptions): Promise<RunningListener> {
  const connections = new Map<Socket, Connection>();
  const accept = (socket: Socket) => {
    connections.set(socket, new Connection(socket, o, `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`));
    o.metrics.connections.inc();
    socket.on('close', () => {
      connections.delete(socket);
      o.metrics.connections.dec();
    });
  };
  const server = o.tls ? createTlsServer({ ...o.tls, allowHalfOpen: true }, accept) : createServer({ allowHalfOpen: true }, accept);
  server.on('error', (err) => o.log.error({ err: err.message }, 'MLLP listener error'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // frames received are answered before their connection closes: an ACK dropped for a stored message makes the sender resend it
        for (const c of connections.values()) c.shutdown();
        setTimeout(() => {
          for (const s of connections.keys()) s.destroy();
        }, o.drainMs ?? DEFAULT_DRAIN_MS).unref();
      }),
  };
}
