/**
 * The request body an exchange sends upstream, and how far it got. Only requests with a body
 * (`hasBody`) have one, so a GET pays nothing for it.
 *
 * A body within the buffer limit is read whole before a connection is taken; a larger one is
 * handed to undici as a stream (request-buffer.ts), and read ahead up to the same limit while it
 * waits for a slot of the upstream's connection gate, so that its client leaving shows.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { cutWhileSending } from '../upstreams/reset-while-sending.js';
import { readSmallBody, worthBuffering, type BufferOutcome } from './request-buffer.js';
import { ignoreError, RequestBody } from './unread-body.js';

/** Whether the request has a body at all (a declared length other than 0, or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0');
}

export class OutgoingBody {
  /** what the body is read from: the request, or the tee a shadowed write is copied through */
  private src: Readable;
  /** the whole body, read before a connection was taken */
  private buffered: Buffer | undefined;
  /** the stream undici sends, when the body is streamed */
  private streamed: Readable | undefined;
  private stopReadAhead: (() => void) | undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly limit: number,
  ) {
    this.src = req;
  }

  /** A shadowed write's body comes through a tee (shadow.ts), which fails when the client leaves. */
  useTee(tee: Readable): void {
    this.src = tee;
    tee.on('error', ignoreError);
  }

  /** Whether the body is read whole before a connection is taken. */
  readsFirst(): boolean {
    return worthBuffering(this.req, this.limit);
  }

  /** Reads it (up to the limit); `then(false)`: the client left while sending. */
  readWhole(then: (clientStayed: boolean) => void): void {
    readSmallBody(this.src, this.limit, (outcome: BufferOutcome) => {
      if (outcome instanceof Buffer) this.buffered = outcome;
      then(outcome !== null);
    });
  }

  /** Whether it goes as a stream, holding its connection as long as its client takes to send. */
  get streams(): boolean {
    return this.buffered === undefined;
  }

  /** While a streamed body waits for a connection, its client's leaving must show (a paused socket would not tell). */
  readAhead(): void {
    if (this.limit <= 0) return;
    this.stopReadAhead = readSmallBody(this.src, this.limit, (outcome: BufferOutcome) => {
      this.stopReadAhead = undefined;
      if (outcome instanceof Buffer) this.buffered = outcome;
    });
  }

  endReadAhead(): void {
    this.stopReadAhead?.();
    this.stopReadAhead = undefined;
  }

  /** The body as undici is given it: the same stream again for an attempt undici never wrote (resend.ts). */
  forUndici(): Buffer | Readable {
    if (this.buffered !== undefined) return this.buffered;
    this.streamed ??= this.src === this.req ? new RequestBody(this.req) : this.src;
    return this.streamed;
  }

  /** Whether a connection lost with `err` was lost before the body was all sent. */
  stillSending(err: Error): boolean {
    return cutWhileSending(err) || (this.streamed !== undefined && !this.streamed.readableEnded);
  }
}
