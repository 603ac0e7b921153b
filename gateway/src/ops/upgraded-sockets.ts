/**
 * The WebSocket connections the gateway passes through, so that shutdown can end them. Once a
 * connection is upgraded, Node's HTTP server no longer counts it among the connections that
 * closeAllConnections() closes, yet server.close() waits for it: one open WebSocket kept the
 * process running after SIGTERM until the kubelet's SIGKILL.
 *
 * At the end of the drain each is closed the way RFC 6455 §7.1.2 wants: a Close frame with
 * 1001 "going away" to the client, written only between two frames of the upstream's stream
 * (every byte the gateway writes to the client passes through a small frame reader here), then
 * nothing more of the upstream's, then a FIN. A client that does not close its side soon, a
 * connection caught in the middle of a frame or of the handshake, is destroyed instead; its
 * 'error' makes the passthrough end the upstream's connection too.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';

/** a Close frame, server to client (unmasked): 1001 and a reason */
export function closeFrame(code: number, reason: string): Buffer {
  const payload = Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason, 'utf8').subarray(0, 123)]);
  return Buffer.concat([Buffer.from([0x88, payload.length]), payload]);
}

const GOING_AWAY = closeFrame(1001, 'gateway shutting down');
const MAX_HEAD = 64 * 1024;

/**
 * Follows the bytes written to the client: the handshake's answer head, then frame after
 * frame. Knows whether the next byte would start a frame, the only place a Close may go.
 */
export class FrameBoundary {
  private phase: 'head' | 'frames' | 'other' = 'head';
  private head = Buffer.alloc(0);
  private header = Buffer.alloc(0);
  private remaining = 0;

  get atBoundary(): boolean {
    return this.phase === 'frames' && this.remaining === 0 && this.header.length === 0;
  }

  feed(chunk: Buffer): void {
    if (this.phase === 'other') return;
    if (this.phase === 'head') {
      this.head = Buffer.concat([this.head, chunk]);
      const end = this.head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.head.length > MAX_HEAD) this.phase = 'other';
        return;
      }
      // a refused handshake (any answer but 101) never becomes a WebSocket
      if (!/^HTTP\/1\.1 101 /.test(this.head.subarray(0, 13).toString('latin1'))) {
        this.phase = 'other';
        return;
      }
      this.phase = 'frames';
      const rest = this.head.subarray(end + 4);
      this.head = Buffer.alloc(0);
      chunk = rest;
    }
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - at);
        this.remaining -= take;
        at += take;
        continue;
      }
      this.header = Buffer.concat([this.header, chunk.subarray(at, at + 1)]);
      at += 1;
      const need = headerLength(this.header);
      if (need === undefined || this.header.length < need) continue;
      this.remaining = payloadLength(this.header);
      this.header = Buffer.alloc(0);
    }
  }
}

/** a frame header's length, once its first two bytes are known */
function headerLength(h: Buffer): number | undefined {
  if (h.length < 2) return undefined;
  const len7 = h[1]! & 0x7f;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (h[1]! & 0x80 ? 4 : 0);
}

function payloadLength(h: Buffer): number {
  const len7 = h[1]! & 0x7f;
  if (len7 === 126) return h.readUInt16BE(2);
  if (len7 === 127) return Number(h.readBigUInt64BE(2));
  return len7;
}

interface Tracked {
  socket: Duplex;
  frames: FrameBoundary;
  /** the Close is written: nothing more of the upstream's may follow it */
  closing: boolean;
}

/** the written chunk's bytes, without copying a binary one */
function asBuffer(chunk: unknown, encoding: BufferEncoding): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding);
  if (Buffer.isBuffer(chunk)) return chunk;
  const u = chunk as Uint8Array;
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

const isWebSocket = (req: IncomingMessage) => req.method === 'GET' && (req.headers.upgrade ?? '').trim().toLowerCase() === 'websocket';

export class UpgradedSockets {
  private readonly open = new Set<Tracked>();

  /** A second 'upgrade' listener beside the passthrough's; it sees every WebSocket handshake. */
  track(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      if (isWebSocket(req)) this.add(socket);
    });
  }

  get size(): number {
    return this.open.size;
  }

  private add(socket: Duplex): void {
    const t: Tracked = { socket, frames: new FrameBoundary(), closing: false };
    const write = socket.write.bind(socket) as (chunk: unknown, ...rest: unknown[]) => boolean;
    socket.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
      if (t.closing) {
        // the upstream's answer to the Close, or what it still had in flight: the client may not get it
        const cb = rest.find((r): r is () => void => typeof r === 'function');
        if (cb) process.nextTick(cb);
        return true;
      }
      const encoding = typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : 'utf8';
      t.frames.feed(asBuffer(chunk, encoding));
      return write(chunk, ...rest);
    }) as Duplex['write'];
    socket.on('error', () => undefined);
    socket.once('close', () => this.open.delete(t));
    this.open.add(t);
  }

  /**
   * Ends every WebSocket: a Close 1001 where a frame may start, else at once; after `graceMs`
   * whatever is still open is destroyed. Resolves when all are closed.
   */
  async closeAll(graceMs: number): Promise<void> {
    const all = [...this.open];
    const closed = all.map((t) => new Promise<void>((resolve) => (t.socket.destroyed ? resolve() : t.socket.once('close', () => resolve()))));
    for (const t of all) {
      if (t.socket.destroyed) continue;
      if (t.frames.atBoundary && t.socket.writable) {
        t.socket.write(GOING_AWAY);
        t.closing = true;
        // the client answers with its own Close (passed to the upstream) and its FIN
        t.socket.end();
      } else {
        t.socket.destroy(new Error('gateway shutting down'));
      }
    }
    const late = setTimeout(() => {
      for (const t of all) if (!t.socket.destroyed) t.socket.destroy(new Error('gateway shutting down'));
    }, graceMs);
    late.unref();
    await Promise.all(closed);
    clearTimeout(late);
  }
}
