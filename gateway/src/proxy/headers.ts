/**
 * Header handling of a transparent proxy (RFC 9110 §7.6): connection-specific headers are
 * removed in both directions, X-Forwarded-* and Via are added, and everything else passes
 * byte for byte, in order, with its original case and repetitions.
 */
import type { IncomingMessage } from 'node:http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'upgrade', 'proxy-authenticate', 'proxy-authorization', 'http2-settings']);

/**
 * Request headers the gateway sets itself instead of passing through. `Trailer` too: undici
 * sends a request body without trailers, so it would announce fields that never come.
 */
const REWRITTEN_ON_REQUEST = new Set(['host', 'expect', 'via', 'x-request-id', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'trailer']);

/**
 * Headers that name the client's address to the upstream, which a legacy system may write to
 * its access audit (who opened a chart from where): from a client that no trusted load balancer
 * vouches for they are whatever the client wrote, so they are dropped and X-Real-IP is set to
 * the address the gateway saw. X-Forwarded-For is appended to instead, as every proxy does (the
 * last entry is the one the gateway vouches for).
 */
const CLIENT_ADDRESS_CLAIMS = new Set(['forwarded', 'x-real-ip']);

export const VIA = '1.1 ficus';

/**
 * A Ficus admin token (`ficus_…`, as the admin API makes them) is for the admin API alone. A
 * client pointed at the data plane by mistake (the CLI with the gateway's URL) would otherwise
 * hand a credential that can change the routing to legacy, its logs and whoever reads them.
 */
const ADMIN_CREDENTIAL = /^\s*bearer\s+ficus_/i;

export const isAdminCredential = (value: string | string[] | undefined): boolean => typeof value === 'string' && ADMIN_CREDENTIAL.test(value);

function connectionTokens(value: string | undefined): Set<string> | null {
  if (!value) return null;
  // the usual values name no other header
  if (value.length <= 10) {
    const v = value.toLowerCase();
    if (v === 'keep-alive' || v === 'close') return null;
  }
  const tokens = value
    .toLowerCase()
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t && t !== 'close' && t !== 'keep-alive');
  return tokens.length ? new Set(tokens) : null;
}

export interface ForwardingContext {
  requestId: string;
  preserveHost: boolean;
  /** keep X-Forwarded-Proto/Host, Forwarded and X-Real-IP from the client (set when a trusted load balancer is in front) */
  trustForwarded: boolean;
  proto: 'http' | 'https';
}

export function upstreamRequestHeaders(req: IncomingMessage, ctx: ForwardingContext): string[] {
  const raw = req.rawHeaders;
  const extra = connectionTokens(req.headers.connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || REWRITTEN_ON_REQUEST.has(lower) || extra?.has(lower)) continue;
    if (!ctx.trustForwarded && CLIENT_ADDRESS_CLAIMS.has(lower)) continue;
    if (lower === 'authorization' && isAdminCredential(raw[i + 1])) continue;
    out.push(name, raw[i + 1]!);
  }
  const h = req.headers;
  const host = h.host;
  if (ctx.preserveHost && host) out.push('host', host);
  const clientIp = req.socket.remoteAddress ?? '';
  const xff = h['x-forwarded-for'];
  out.push('x-forwarded-for', xff ? `${Array.isArray(xff) ? xff.join(', ') : xff}, ${clientIp}` : clientIp);
  const fwdProto = ctx.trustForwarded ? h['x-forwarded-proto'] : undefined;
  out.push('x-forwarded-proto', typeof fwdProto === 'string' ? fwdProto : ctx.proto);
  const fwdHost = ctx.trustForwarded ? h['x-forwarded-host'] : undefined;
  if (typeof fwdHost === 'string') out.push('x-forwarded-host', fwdHost);
  else if (host) out.push('x-forwarded-host', host);
  if (!ctx.trustForwarded) out.push('x-real-ip', clientIp);
  const via = h.via;
  out.push('via', via ? `${via}, ${VIA}` : VIA);
  out.push('x-request-id', ctx.requestId);
  return out;
}

/** How the upstream delimits its response body, read from its headers. */
export interface ResponseFraming {
  /** Content-Length, or -1 when there is none */
  contentLength: number;
  chunked: boolean;
}

/**
 * Response headers for the client from undici's raw header list (latin1 in, latin1 out, so
 * bytes are kept), plus the gateway's own. Fills `framing` on the way.
 */
export function clientResponseHeaders(rawHeaders: Buffer[], added: string[], framing: ResponseFraming, status: number): string[] {
  // a 426 must say which protocol to upgrade to (RFC 9110 §15.5.22): keep its Upgrade header
  const keepUpgrade = status === 426;
  const out: string[] = [];
  let extra: Set<string> | null = null;
  framing.contentLength = -1;
  framing.chunked = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toString('latin1');
    const lower = name.toLowerCase();
    const value = rawHeaders[i + 1]!.toString('latin1');
    if (lower === 'connection') {
      extra = connectionTokens(value);
    } else if (lower === 'content-length') {
      framing.contentLength = Number(value);
    } else if (lower === 'transfer-encoding') {
      framing.chunked = /chunked\s*$/i.test(value);
    }
    if (HOP_BY_HOP.has(lower) && !(keepUpgrade && lower === 'upgrade')) continue;
    out.push(name, value);
  }
  if (extra) {
    for (let i = out.length - 2; i >= 0; i -= 2) {
      const lower = out[i]!.toLowerCase();
      if (extra.has(lower) && !(keepUpgrade && lower === 'upgrade')) out.splice(i, 2);
    }
  }
  for (let i = 0; i < added.length; i++) out.push(added[i]!);
  return out;
}

/** RFC 9112 §3.2: a request with more than one Host must be refused (400), as it names no single origin. */
export function hasRepeatedHost(rawHeaders: string[]): boolean {
  let seen = false;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length !== 4 || name.toLowerCase() !== 'host') continue;
    if (seen) return true;
    seen = true;
  }
  return false;
}

/**
 * A request body with a transfer coding besides chunked (`gzip, chunked`): Node's parser takes
 * it and unchunks it, and the upstream got the still-compressed bytes as plain ones (the
 * header is connection-specific and cannot go on). Refused 501, as RFC 9112 §6.1 says and nginx does.
 */
export function hasUnknownTransferCoding(value: string | undefined): boolean {
  return value !== undefined && value.trim().toLowerCase() !== 'chunked';
}

export const UNKNOWN_TRANSFER_CODING_DETAIL = 'the request body has a transfer coding other than chunked, which the gateway does not implement (RFC 9112 §6.1): send it chunked alone, with any compression as Content-Encoding';

export const HTTP10_TRANSFER_CODING_DETAIL = 'an HTTP/1.0 request cannot carry Transfer-Encoding (RFC 9112 §6.1): its body length is unreliable; send it with a Content-Length, or as HTTP/1.1';

export const REPEATED_HOST_DETAIL = 'the request has more than one Host header (RFC 9112 §3.2)';

const REQUEST_ID = /^[A-Za-z0-9._:/+=-]{1,200}$/;

export function acceptableRequestId(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' && REQUEST_ID.test(value) ? value : undefined;
}
