/**
 * Turns an undici error into the answer the client gets: 504 for timeouts, 502 for anything
 * else that kept the upstream from answering.
 */
export interface UpstreamFailure {
  status: 502 | 504;
  slug: string;
  title: string;
  /** short, PHI-free reason used in logs, metrics and fallbacks */
  reason: string;
}

export function classifyUpstreamError(err: Error & { code?: string }): UpstreamFailure {
  switch (err.code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return { status: 504, slug: 'upstream-timeout', title: 'Upstream did not accept the connection in time', reason: 'connect-timeout' };
    case 'UND_ERR_HEADERS_TIMEOUT':
      return { status: 504, slug: 'upstream-timeout', title: 'Upstream did not answer in time', reason: 'response-timeout' };
    case 'UND_ERR_BODY_TIMEOUT':
      return { status: 504, slug: 'upstream-timeout', title: 'Upstream stopped sending its answer', reason: 'body-timeout' };
    case 'ECONNREFUSED':
      return { status: 502, slug: 'upstream-unreachable', title: 'Upstream refused the connection', reason: 'connection-refused' };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { status: 502, slug: 'upstream-unreachable', title: 'Upstream host name did not resolve', reason: 'dns' };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return { status: 502, slug: 'upstream-unreachable', title: 'Upstream is unreachable', reason: 'unreachable' };
    case 'UND_ERR_SOCKET':
    case 'ECONNRESET':
    case 'EPIPE':
      return { status: 502, slug: 'upstream-connection-lost', title: 'Upstream closed the connection before answering', reason: 'connection-lost' };
    default:
      return { status: 502, slug: 'bad-gateway', title: 'Upstream request failed', reason: err.code ?? 'error' };
  }
}
