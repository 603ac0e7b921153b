/**
 * RFC 9112 §3.2: a request with no single, valid Host is refused 400, as nginx refuses it
 * ("client sent invalid host header"). Passed on, an empty Host or one such as `a/b`, `u@a` or
 * `a:99999` reached the upstream as its Host (preserveHost) and in X-Forwarded-Host, where a
 * legacy application builds its links and redirects from it.
 */
import type { IncomingMessage } from 'node:http';
import { hasRepeatedHost, REPEATED_HOST_DETAIL } from './headers.js';

/**
 * host [":" port] (RFC 3986 §3.2.2-3): a non-empty reg-name or IPv4 address (unreserved,
 * sub-delims, pct-encoded), an IPv6 literal or an IPvFuture one; a port of 0-65535, or empty
 * (`a:`, which the URI grammar allows). One test of a precompiled pattern on the hot path.
 */
const VALID_HOST =
  /^(?:(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+|\[[0-9A-Fa-f:.]+\]|\[v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+\])(?::0*(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])?)?$/;

export const isValidHost = (value: string): boolean => VALID_HOST.test(value);

export const INVALID_HOST_DETAIL = 'the Host header is empty or not a valid host and port (RFC 9112 §3.2, RFC 3986 §3.2.2)';

export const MISSING_HOST_DETAIL = 'an HTTP/1.1 request must have a Host header (RFC 9112 §3.2)';

/**
 * Why the request's Host cannot be taken, or undefined when it can. Without a Host an HTTP/1.0
 * request is served, an HTTP/1.1 one (plain, or a WebSocket handshake) refused here: the gateway's
 * server leaves Node's own check off (gateway.ts), whose bare 400 was neither counted nor logged.
 */
export function hostDefect(req: IncomingMessage): string | undefined {
  if (hasRepeatedHost(req.rawHeaders)) return REPEATED_HOST_DETAIL;
  const host = req.headers.host;
  if (host === undefined) return req.httpVersionMinor === 0 ? undefined : MISSING_HOST_DETAIL;
  return VALID_HOST.test(host) ? undefined : INVALID_HOST_DETAIL;
}
