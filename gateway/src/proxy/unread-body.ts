/**
 * A request answered before its body was all read (an upstream's early 413, or the gateway's
 * own error while the upload still runs). RFC 9112 §9.6: the server must then read and discard
 * the rest, or close. Left alone, the client's connection hangs: nobody reads the body, so the
 * next request on it is never parsed.
 *
 * The rest of a body of at most DRAIN_LIMIT bytes is read and dropped and the connection kept, as
 * nginx does; past that the answer says `Connection: close` and the connection is closed the
 * way nginx's lingering close does it: the answer is sent, the sending side shut, and what the
 * client still sends is read and dropped for a while, because closing a socket with unread
 * input sends a reset, which can make the client's TCP stack throw away the answer unread.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';

/** body bytes still to come that are read and dropped to keep the connection */
export const DRAIN_LIMIT = 1024 * 1024;
/** how long a connection closing after such an answer keeps reading what the client still sends */
export const LINGER_MS = 30_000;

const kLingering = Symbol('ficus.lingering');
type LingeringSocket = Socket & { [kLingering]?: IncomingMessage };

/** Whether this connection is being closed: requests that still arrive on it are not served. */
export function isLingering(socket: Socket): boolean {
  return (socket as LingeringSocket)[kLingering] !== undefined;
}

export function ignoreError(): void {}

/**
 * The client's body as undici gets it. undici destroys the body it was sending when the answer
 * comes first; destroying the request itself would leave the connection's parser stalled on a
 * destroyed stream, so undici gets this stand-in and the request stays readable for draining.
 */
export class RequestBody extends Readable {
  private readonly onData = (chunk: Buffer): void => {
    if (!this.push(chunk)) this.req.pause();
  };
  private readonly onEnd = (): void => {
    this.push(null);
  };
  private readonly onClose = (): void => {
    if (!this.req.complete) this.destroy(new Error('client went away'));
  };

  constructor(private readonly req: IncomingMessage) {
    super({ highWaterMark: 64 * 1024 });
    // undici listens for the body's errors only once it has built its request, and a request
    // waiting in its queue for a connection has none yet (nor after undici is done with it): a
    // client leaving then made this 'error' unhandled and took the gateway process down. The
    // exchange hears of the client leaving through the response's 'close'.
    this.on('error', ignoreError);
    req.on('data', this.onData).once('end', this.onEnd).once('close', this.onClose);
  }

  override _read(): void {
    this.req.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.req.off('data', this.onData).off('end', this.onEnd).off('close', this.onClose);
    cb(err);
  }
}

/** Whether dropping the rest of the body costs at most DRAIN_LIMIT bytes (the whole body counted: simple, and safe). */
function cheapToDrain(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return len !== undefined && Number(len) <= DRAIN_LIMIT;
}

function drain(req: IncomingMessage): void {
  req.unpipe();
  // flowing with no 'data' listener: the parser's chunks are dropped as they come
  req.removeAllListeners('data');
  req.resume();
}

function lingeringClose(this: LingeringSocket): void {
  const req = this[kLingering]!;
  this.end();
  drain(req);
  const close = () => this.destroy();
  const timer = setTimeout(close, LINGER_MS);
  timer.unref();
  this.once('close', () => clearTimeout(timer));
  if (req.complete) close();
  else req.once('end', close).once('close', close);
}

/**
 * To be called before the head of an answer is written. Returns at once when the body was all
 * read; otherwise arranges for the rest to be dropped, or the connection to be closed.
 */
export function answerBeforeBody(req: IncomingMessage, res: ServerResponse): void {
  if (req.complete) return;
  if (cheapToDrain(req)) {
    res.once('finish', () => drain(req));
    return;
  }
  res.shouldKeepAlive = false;
  const socket = req.socket as LingeringSocket;
  socket[kLingering] = req;
  // Node closes a `Connection: close` connection with destroySoon() once the answer is out
  socket.destroySoon = lingeringClose;
}
