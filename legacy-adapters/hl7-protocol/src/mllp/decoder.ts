/**
 * A streaming MLLP decoder: bytes in, complete frames and framing incidents out.
 *
 * Decisions (README, "Framing"):
 * - Bytes before a start block are skipped and reported as `garbage` with their count (once
 *   per push, so a peer that only sends garbage is seen without waiting for a start block).
 * - A start block (0x0B) always starts a new frame, whatever state the decoder is in: an
 *   unfinished frame before it is reported as `discarded` ('new-start-block') and dropped. A
 *   frame without its end block was never acknowledged, so its sender will send it again; and
 *   a 0x0B is the only point where a confused stream can be picked up again.
 * - An end block (0x1C) not followed by CR discards the frame ('invalid-end-block'): a 0x1C
 *   inside the data would otherwise cut a message in two, and its first half could be accepted
 *   as a shorter message. The byte after the 0x1C is read again outside a frame.
 * - A frame that grows past `maxFrameBytes` is reported at once as `oversize` (with its first
 *   bytes, for an AR that echoes MSH-10) and its remaining bytes are skipped, not buffered, up
 *   to its end block, where it is reported as `discarded` ('too-large'); frames after it are
 *   decoded as usual, so a caller that keeps the connection loses nothing else.
 *
 * Work is linear in the bytes pushed: each byte is looked at a bounded number of times, and a
 * frame is copied at most twice (into the buffer, and out as its payload).
 */
import { CARRIAGE_RETURN, END_BLOCK, START_BLOCK } from './frame.js';

export interface MllpDecoderOptions {
  /** The largest payload accepted, in bytes (default 8 MiB). */
  readonly maxFrameBytes?: number;
}

export type DiscardReason = 'new-start-block' | 'invalid-end-block' | 'too-large' | 'connection-ended';

export type MllpEvent =
  /** A complete payload, without 0x0B and 0x1C 0x0D; a copy the caller owns. */
  | { readonly type: 'frame'; readonly payload: Buffer }
  /** Bytes outside any frame, skipped. */
  | { readonly type: 'garbage'; readonly bytes: number }
  /** The current frame passed the limit; `head` is its first bytes (at most 8 KiB), only for answering. */
  | { readonly type: 'oversize'; readonly limit: number; readonly head: Buffer }
  /** A started frame that will never be delivered, and how many payload bytes it had. */
  | { readonly type: 'discarded'; readonly reason: DiscardReason; readonly bytes: number };

export const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;
const HEAD_BYTES = 8 * 1024;
const KEPT_BUFFER_BYTES = 64 * 1024;

type State = 'outside' | 'inside' | 'end-block';

export class MllpDecoder {
  readonly maxFrameBytes: number;
  private state: State = 'outside';
  /** Frame bytes from earlier chunks (a frame that ends in the chunk it began in skips it). */
  private buffer: Buffer = Buffer.alloc(0);
  private buffered = 0;
  /** Payload bytes of the current frame so far, stored or not. */
  private frameBytes = 0;
  private tooLarge = false;
  private garbage = 0;

  constructor(options: MllpDecoderOptions = {}) {
    const max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isSafeInteger(max) || max < 1) throw new RangeError('maxFrameBytes must be a positive integer');
    this.maxFrameBytes = max;
  }

  /** Bytes held for an unfinished frame: never more than maxFrameBytes. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): MllpEvent[] {
    const events: MllpEvent[] = [];
    const scan = new ChunkScanner(chunk);
    let pos = 0;
    let frameFrom = 0; // where the current frame's bytes begin in this chunk
    while (pos < chunk.length) {
      if (this.state === 'outside') {
        const start = scan.next(START_BLOCK, pos);
        const stop = start === -1 ? chunk.length : start;
        this.garbage += stop - pos;
        if (start === -1) {
          pos = chunk.length;
        } else {
          this.flushGarbage(events);
          this.beginFrame();
          pos = frameFrom = start + 1;
        }
      } else if (this.state === 'inside') {
        const start = scan.next(START_BLOCK, pos);
        const end = scan.next(END_BLOCK, pos);
        const stop = firstOf(start, end, chunk.length);
        // here pos === frameFrom: within one chunk a frame's bytes are taken in one go
        this.take(chunk, frameFrom, stop, events);
        if (stop === chunk.length) {
          pos = stop;
        } else if (stop === start) {
          this.discard('new-start-block', events);
          this.beginFrame();
          pos = frameFrom = start + 1;
        } else {
          this.keep(chunk, frameFrom, stop);
          this.state = 'end-block';
          pos = stop + 1;
        }
      } else if (chunk[pos] === CARRIAGE_RETURN) {
        if (this.tooLarge) this.discard('too-large', events);
        else events.push({ type: 'frame', payload: this.takePayload() });
        this.state = 'outside';
        pos++;
      } else {
        // not consumed: the byte after a bad end block may be the start of the next frame
        this.discard('invalid-end-block', events);
      }
    }
    if (this.state === 'inside') this.keep(chunk, frameFrom, chunk.length);
    this.flushGarbage(events);
    return events;
  }

  /** The connection ended: reports an unfinished frame, and forgets everything. */
  end(): MllpEvent[] {
    const events: MllpEvent[] = [];
    if (this.state !== 'outside') this.discard('connection-ended', events);
    this.flushGarbage(events);
    return events;
  }

  private beginFrame(): void {
    this.state = 'inside';
    this.buffered = 0;
    this.frameBytes = 0;
    this.tooLarge = false;
  }

  /** Counts chunk[frameFrom, stop) into the frame, and detects the moment it passes the limit. */
  private take(chunk: Uint8Array, frameFrom: number, stop: number, events: MllpEvent[]): void {
    this.frameBytes += stop - frameFrom;
    if (this.tooLarge || this.frameBytes <= this.maxFrameBytes) return;
    this.tooLarge = true;
    const head = Buffer.alloc(Math.min(HEAD_BYTES, this.maxFrameBytes));
    const fromBuffer = this.buffer.copy(head, 0, 0, Math.min(this.buffered, head.length));
    const fromChunk = Math.min(stop - frameFrom, head.length - fromBuffer);
    head.set(chunk.subarray(frameFrom, frameFrom + fromChunk), fromBuffer);
    events.push({ type: 'oversize', limit: this.maxFrameBytes, head: head.subarray(0, fromBuffer + fromChunk) });
    this.release();
  }

  /** Keeps chunk[from, to) of a frame that continues in a later chunk (or ends at a pending CR). */
  private keep(chunk: Uint8Array, from: number, to: number): void {
    if (this.tooLarge || to <= from) return;
    const needed = this.buffered + (to - from);
    if (needed > this.buffer.length) {
      // doubling keeps appends linear overall; the cap keeps memory within the limit
      const grown = Buffer.allocUnsafe(Math.min(this.maxFrameBytes, Math.max(needed, this.buffer.length * 2, 4096)));
      this.buffer.copy(grown, 0, 0, this.buffered);
      this.buffer = grown;
    }
    this.buffer.set(chunk.subarray(from, to), this.buffered);
    this.buffered = needed;
  }

  private takePayload(): Buffer {
    const payload = Buffer.from(this.buffer.subarray(0, this.buffered));
    this.buffered = 0;
    if (this.buffer.length > KEPT_BUFFER_BYTES) this.release();
    return payload;
  }

  private discard(reason: DiscardReason, events: MllpEvent[]): void {
    // the caller already heard 'oversize' for this frame, however it ends
    events.push({ type: 'discarded', reason: this.tooLarge ? 'too-large' : reason, bytes: this.frameBytes });
    this.state = 'outside';
    this.buffered = 0;
    this.frameBytes = 0;
    this.tooLarge = false;
    if (this.buffer.length > KEPT_BUFFER_BYTES) this.release();
  }

  private release(): void {
    this.buffer = Buffer.alloc(0);
    this.buffered = 0;
  }

  private flushGarbage(events: MllpEvent[]): void {
    if (this.garbage === 0) return;
    events.push({ type: 'garbage', bytes: this.garbage });
    this.garbage = 0;
  }
}

/**
 * indexOf with memory: the next position of a byte is searched again only once the scan has
 * passed it, so a chunk is scanned at most once per byte value, whatever it holds.
 */
class ChunkScanner {
  private readonly found = new Map<number, number>();

  constructor(private readonly chunk: Uint8Array) {}

  next(byte: number, from: number): number {
    const known = this.found.get(byte);
    if (known !== undefined && (known === -1 || known >= from)) return known;
    const at = this.chunk.indexOf(byte, from);
    this.found.set(byte, at);
    return at;
  }
}

function firstOf(a: number, b: number, none: number): number {
  if (a === -1) return b === -1 ? none : b;
  return b === -1 ? Math.min(a, none) : Math.min(a, b);
}
