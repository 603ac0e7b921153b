/**
 * Two answers HTTP allows that undici 7's HTTP/1.1 client refuses, so that the gateway handed
 * a healthy upstream's answer on as a failure (and counted it against the upstream's circuit):
 *
 * - an interim `100 Continue` the gateway did not ask for. RFC 9110 §15.2: a client "MUST be able
 *   to parse one or more 1xx responses received prior to a final response, even if the client
 *   does not expect one". IIS and WCF/SOAP stacks send one to POSTs without `Expect`; undici
 *   destroys the connection ("bad response") and the client got 502 `upstream-connection-lost`.
 * - a `304 Not Modified` carrying the `Content-Length` of the representation it stands for
 *   (RFC 9110 §8.6 allows it; ASP.NET and others send it), or a 204 with one. The parser
 *   rightly reads no body, then undici compares the bytes read with the header and destroys
 *   the connection (`UND_ERR_RES_CONTENT_LENGTH_MISMATCH`) after the head had gone to the
 *   client: the client's connection was cut, an ETag revalidation failed outright.
 * - lines ended by a bare LF instead of CRLF. RFC 9112 §2.2 lets a recipient take one; nginx
 *   and browsers do, and an old server that writes them (a hand-written CGI, an embedded system)
 *   got 502 `bad-gateway` for every answer. Its llhttp flag is set on undici's parser.
 *
 * Both are fixed on undici's parser object of each upstream connection: an unasked 100 goes on
 * as another interim status (the exchange, like every undici handler, skips interim answers),
 * and the length of a bodiless answer is not held against the bytes it had. The header itself
 * reaches the client unchanged. The parser is found as paused-end-guard.ts finds it; should a
 * later undici rename it, nothing is changed and gateway/test/interim-and-bodiless-answers.test.ts
 * fails.
 */
import type { Socket } from 'node:net';
import type { buildConnector } from 'undici';
import { parserOf } from './paused-end-guard.js';

interface LenientParser {
  contentLength: string;
  /** undici's llhttp (WebAssembly) and this connection's parser in it */
  llhttp?: { llhttp_set_lenient_optional_cr_before_lf?: (ptr: number, on: number) => void };
  ptr?: number;
  onHeadersComplete(statusCode: number, upgrade: boolean, shouldKeepAlive: boolean): number;
  [kLenient]?: true;
}

const kLenient = Symbol('ficus.lenientAnswers');

/**
 * What an unasked 100 is handed to undici as: an interim status it takes (not 100, not 101, which
 * mean something to it), registered to nothing, so no handler can mistake it for another.
 */
const UNASKED_CONTINUE = 199;

function bodiless(statusCode: number): boolean {
  return statusCode === 304 || statusCode === 204;
}

function makeLenient(parser: LenientParser): void {
  if (parser[kLenient]) return;
  parser[kLenient] = true;
  if (parser.ptr !== undefined) parser.llhttp?.llhttp_set_lenient_optional_cr_before_lf?.(parser.ptr, 1);
  const headersComplete = parser.onHeadersComplete;
  parser.onHeadersComplete = function (this: LenientParser, statusCode, upgrade, shouldKeepAlive) {
    const ret = headersComplete.call(this, statusCode === 100 ? UNASKED_CONTINUE : statusCode, upgrade, shouldKeepAlive);
    if (bodiless(statusCode)) this.contentLength = '';
    return ret;
  };
}

/** undici creates the parser after the connector's callback: it is there by the first answer's bytes. */
function onFirstBytes(this: Socket): void {
  const parser = parserOf(this) as LenientParser | undefined;
  if (parser && typeof parser.onHeadersComplete === 'function') makeLenient(parser);
}

export function lenientAnswersConnector(connect: buildConnector.connector): buildConnector.connector {
  return (opts, callback) =>
    connect(opts, (err, socket) => {
      // before undici's own 'readable' listener, which parses what came
      if (socket) (socket as unknown as Socket).prependOnceListener('readable', onFirstBytes);
      (callback as (e: Error | null, s: typeof socket | null) => void)(err, socket);
    });
}
