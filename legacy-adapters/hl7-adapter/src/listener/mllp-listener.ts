/**
 * The MLLP listener: TCP (or TLS) connections, each read through the one MLLP framer, frames
 * handled in order (those that arrived together, stored together), one ACK per message
 * written back in that order. Garbage between frames is
 * skipped; an oversize frame is refused and the connection closed; an idle connection is
 * closed; when the store falls behind, or the sender does not read its ACKs, the connection
 * stops being read (back-pressure) instead of buffering without bound. A sender that closes its
 * side after its last message (half-close) still gets every ACK before the adapter closes its own.
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
  tls?: TlsOptions;
}

interface Queued {
  payload: Buffer;
  at: number;
}

class Connection {
  private readonly decoder: MllpDecoder;
  private readonly queue: Queued[] = [];
  private working = false;
  /** too many frames wait for the store */
  private inputFull = false;
  /** the sender is not taking its ACKs: they wait in our write buffer until 'drain' */
  private outputFull = false;
  private closing = false;
  /** the sender closed its side: finish the frames in hand, answer them, then close ours */
  private ended = false;

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
      o.log.info({ peer }, 'idle MLLP connection closed');
      socket.end();
    });
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    socket.on('end', () => {
      this.ended = true;
      this.received(null);
    });
    socket.on('error', (err) => o.log.debug({ peer, err: err.message }, 'MLLP connection error'));
    socket.on('drain', () => {
      if (!this.outputFull) return;
      this.outputFull = false;
      this.updateReading();
      void this.work();
    });
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

  /** Reads while neither the frames waiting nor the ACKs unwritten are over their bound. */
  private updateReading(): void {
    if (this.closing) return;
    if (this.inputFull || this.outputFull) this.socket.pause();
    else this.socket.resume();
  }

  private received(chunk: Buffer | null): void {
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
          this.closing = true;
          this.socket.pause();
          this.queue.length = 0;
          this.socket.end(this.o.intake.oversize(e.head, e.limit, this.peer));
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

  private async work(): Promise<void> {
    if (this.working) return;
    this.working = true;
    try {
      // while the sender's ACKs are not taken, its frames wait: 'drain' starts this again
      while (this.queue.length > 0 && !this.closing && !this.outputFull) {
        // every frame in hand at once: their messages go to the store in one statement, in order
        const items = this.queue.splice(0);
        const answers = await this.o.intake.frames(
          items.map((i) => i.payload),
          this.peer,
          this.later,
        );
        // closed, or ended by the idle timeout: a write now would fail (the sender resends)
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
      if (this.ended && this.queue.length === 0 && !this.socket.destroyed) this.socket.end();
    }
  }
}

export interface RunningListener {
  port: number;
  server: Server;
  close(): Promise<void>;
}

export async function startListener(host: string, port: number, o: ListenerOptions): Promise<RunningListener> {
  const sockets = new Set<Socket>();
  const accept = (socket: Socket) => {
    sockets.add(socket);
    o.metrics.connections.inc();
    socket.on('close', () => {
      sockets.delete(socket);
      o.metrics.connections.dec();
    });
    new Connection(socket, o, `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`);
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
        // senders keep connections open; end them (an unanswered frame will be resent)
        for (const s of sockets) s.end();
        setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, 2_000).unref();
      }),
  };
}
