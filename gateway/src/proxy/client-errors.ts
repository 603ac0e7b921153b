/**
 * Requests Node's HTTP parser refuses before the gateway sees them: a method it does not know
 * (`get`: methods are case-sensitive), a byte a target cannot hold, a repeated Content-Length,
 * a head too large (431, or 414 when the request line alone is), an HTTP version it does not
 * take (505: request-line.ts). They are answered like the gateway's own errors, problem+json, with
 * `Connection: close` and the connection closed after the answer, as nginx does (fastify's
 * default answered `{"error":"Bad Request","message":"Client Error"}`).
 *
 * Bytes that fail to parse after a whole request on a keep-alive connection are a new request:
 * the answers owed to the requests before them go out first, in order, and the refusal after
 * them, as nginx does. Written at once, the refusal went out ahead of those answers and the
 * connection was closed under them: a client that pipelined a POST and then something malformed
 * got a 400 for a POST the upstream had carried out. After a request that closes the connection
 * (`Connection: close`, HTTP/1.0 without keep-alive) nothing more is read (RFC 9112 §9.6): its
 * answer ends the connection, and what followed it is not answered at all.
 */
import { randomUUID } from 'node:crypto';
import { maxHeaderSize, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { problem, PROBLEM_CONTENT_TYPE } from '@ficus/contracts';
import type { ProxyRuntime } from './runtime.js';
import { recordRefusal } from './refusals.js';
import { namesOtherVersion, requestLineOverLimit, URI_TOO_LONG_DETAIL, VERSION_NOT_SUPPORTED_DETAIL } from './request-line.js';

type Answer = [status: number, slug: string, title: string, detail: string];

/** Node's parse error: its code, and the bytes of the read it failed in, up to where it stopped. */
type ParseError = Error & { code?: string; rawPacket?: Buffer; bytesParsed?: number };

const AMBIGUOUS_LENGTH: Answer = [400, 'bad-request', 'Bad request', 'the length of the request body is ambiguous: Content-Length repeated or invalid, or sent with Transfer-Encoding (RFC 9112 §6.3)'];

const ANSWERS: Record<string, Answer> = {
  HPE_INVALID_METHOD: [400, 'bad-request', 'Bad request', 'the method is not one the gateway takes: methods are case-sensitive (GET, not get), and unknown ones are refused'],
  HPE_INVALID_URL: [400, 'bad-request-target', 'Bad request target', 'the request target holds a character a target cannot (a space, a control character or a non-ASCII byte): escape it as %XX'],
  HPE_UNEXPECTED_CONTENT_LENGTH: AMBIGUOUS_LENGTH,
  HPE_INVALID_CONTENT_LENGTH: AMBIGUOUS_LENGTH,
  HPE_INVALID_TRANSFER_ENCODING: AMBIGUOUS_LENGTH,
  HPE_INVALID_HEADER_TOKEN: [400, 'bad-request', 'Bad request', 'a header name or value holds a character a header cannot'],
  HPE_HEADER_OVERFLOW: [431, 'request-header-fields-too-large', 'Request header fields too large', `the request line and headers are larger than the gateway takes (${maxHeaderSize / 1024} KiB)`],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'content-too-large', 'Content too large', 'the chunk extensions of the request body are larger than the gateway takes'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request-timeout', 'Request timeout', 'the request was not received in full in time (FICUS_CLIENT_REQUEST_TIMEOUT_MS)'],
};

const URI_TOO_LONG: Answer = [414, 'uri-too-long', 'URI too long', URI_TOO_LONG_DETAIL];
const VERSION_NOT_SUPPORTED: Answer = [505, 'http-version-not-supported', 'HTTP version not supported', VERSION_NOT_SUPPORTED_DETAIL];

function answerOf(err: ParseError): Answer {
  const code = err.code;
  if (code === 'HPE_HEADER_OVERFLOW' && requestLineOverLimit(err.rawPacket, err.bytesParsed)) return URI_TOO_LONG;
  if (code === 'HPE_INVALID_VERSION' && namesOtherVersion(err.rawPacket, err.bytesParsed)) return VERSION_NOT_SUPPORTED;
  return (code !== undefined && ANSWERS[code]) || [400, 'bad-request', 'Bad request', `the request is not valid HTTP/1.1${code !== undefined && /^[A-Z0-9_]{1,40}$/.test(code) ? ` (${code})` : ''}`];
}

/** How long a refused client has to read the answer and close before its connection is cut. */
const LINGER_MS = 5_000;

const answered = new WeakSet<Socket>();

/** Node's own fields of a server connection: the answer being written, and its parser's last request. */
type ServerSocket = Socket & { _httpMessage?: ServerResponse | null; parser?: { incoming?: IncomingMessage | null } | null };

/**
 * Calls `then` once every answer owed on this connection has been written: Node queues the
 * answers of pipelined requests and gives the connection to the next as each one finishes (its
 * own 'finish' listener, added before this one, has done so when this one runs). Never called
 * when an answer is cut instead: the connection goes with it.
 */
export function afterAnswersOwed(socket: Socket, then: () => void): void {
  const owed = (socket as ServerSocket)._httpMessage;
  if (!owed) return then();
  owed.once('finish', () => afterAnswersOwed(socket, then));
}

/** The server's clientError handler. */
export function answerClientError(rt: Pick<ProxyRuntime, 'metrics' | 'accessLog'>, err: ParseError, socket: Socket): void {
  // the parser repeats its error for every later read of the connection: one answer
  if (answered.has(socket)) return;
  if (err.code === 'ECONNRESET' || socket.destroyed) return void socket.destroy();
  answered.add(socket);
  const inFlight = (socket as ServerSocket)._httpMessage;
  // bytes after a request that closes the connection: its answer, still owed or not, ends it
  if (err.code === 'HPE_CLOSED_CONNECTION') return void (inFlight ? undefined : socket.destroySoon());
  // the error is in what follows a whole request: a request of its own, answered in its turn
  if (inFlight && (socket as ServerSocket).parser?.incoming?.complete === true) return afterAnswersOwed(socket, () => refuse(rt, err, socket, true));
  // as Node does: no answer in the middle of one already started on this connection (the
  // error is in the body of the request being answered, or its time ran out)
  if (inFlight?.headersSent) return void socket.destroy();
  // a request whose exchange had begun is counted when that exchange ends
  refuse(rt, err, socket, !inFlight);
}

function refuse(rt: Pick<ProxyRuntime, 'metrics' | 'accessLog'>, err: ParseError, socket: Socket, counted: boolean): void {
  if (!socket.writable) return void socket.destroy();
  const [status, slug, title, detail] = answerOf(err);
  const requestId = randomUUID();
  const body = JSON.stringify(problem(status, slug, title, detail, { instance: `urn:ficus:request:${requestId}` }));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: ${PROBLEM_CONTENT_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `cache-control: no-store\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
  );
  // what the client still sends is read (and dropped by the failed parser) until it closes, so
  // that closing on unread bytes does not reset the connection and the answer with it
  setTimeout(() => socket.destroy(), LINGER_MS).unref();
  if (counted) recordRefusal(rt, undefined, status, requestId, performance.now());
}
