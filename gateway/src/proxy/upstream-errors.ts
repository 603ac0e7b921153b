/**
 * Turns an undici error into the answer the client gets: 504 for timeouts, 502 for anything
 * else that kept the upstream from answering.
 *
 * A connection lost while the request body was still being sent is told apart: an upstream
 * that refuses an upload (a body limit) closes with the rest unread, which resets the
 * connection. The client's body provoked it; it says nothing of the upstream's health, so it is
 * no strike against the upstream's circuit (24 oversized PUTs opened patient-service's circuit
 * for every other client).
 *
 * Also the details of the 503s given when no request went to the upstream: its circuit open,
 * or no connection of its pool free in time.
 */
import type { CircuitState } from '../upstreams/circuit-breaker.js';

export interface UpstreamFailure {
  status: 502 | 504;
  slug: string;
  title: string;
  /** short, PHI-free reason used in logs, metrics and fallbacks */
  reason: string;
  /** whether it counts against the upstream's circuit breaker */
  upstreamFault: boolean;
  /** a TLS failure: OpenSSL's or Node's code, for the log line */
  tlsCode?: string;
  /** what an operator does about it, in the problem's detail */
  hint?: string;
}

const LOST_WHILE_SENDING: UpstreamFailure = {
  status: 502,
  slug: 'upstream-connection-lost',
  title: 'Upstream closed the connection while the request body was being sent',
  reason: 'closed-during-upload',
  upstreamFault: false,
};

/** `sendingBody`: the request body was not all sent when the connection was lost. */
export function classifyUpstreamError(err: Error & { code?: string }, sendingBody = false): UpstreamFailure {
  if (sendingBody && (err.code === 'ECONNRESET' || err.code === 'EPIPE' || err.code === 'UND_ERR_SOCKET')) return LOST_WHILE_SENDING;
  // upstream-tls.ts gives one TLS failure a code of its own, and keeps Node's as tlsCode
  const code = (err as { tlsCode?: string }).tlsCode ?? err.code;
  const tls = code === undefined ? undefined : tlsFailure(code);
  if (tls) return { status: 502, slug: 'upstream-tls-failed', ...tls, upstreamFault: true, tlsCode: code };
  return { ...byCode(err), upstreamFault: true };
}

type TlsFailure = Pick<UpstreamFailure, 'title' | 'reason' | 'hint'>;

const UNTRUSTED: TlsFailure = {
  title: "Upstream's certificate is not signed by a trusted CA",
  reason: 'tls-untrusted-certificate',
  hint: "its certificate does not chain to the CA in the upstream's tls.caFile (or a system CA without one)",
};
const CLIENT_REFUSED: TlsFailure = {
  title: 'Upstream refused the gateway\'s client certificate',
  reason: 'tls-client-certificate-refused',
  hint: "it wants a client certificate it trusts: the upstream's tls.certFile and tls.keyFile",
};

/**
 * TLS failures by the code Node or OpenSSL gives them: a bounded set of reasons (they are metric
 * labels), the code itself goes to the log. Never a certificate's contents.
 */
function tlsFailure(code: string): TlsFailure | undefined {
  switch (code) {
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_UNTRUSTED':
    case 'CERT_SIGNATURE_FAILURE':
    case 'CERT_CHAIN_TOO_LONG':
    case 'INVALID_CA':
      return UNTRUSTED;
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return { title: "Upstream's certificate is not for its host name", reason: 'tls-hostname-mismatch', hint: "its certificate names neither the URL's host nor the upstream's tls.serverName" };
    case 'CERT_HAS_EXPIRED':
    case 'CERT_NOT_YET_VALID':
      return { title: "Upstream's certificate is out of its validity dates", reason: 'tls-certificate-expired', hint: 'expired or not yet valid (or this host\'s clock is wrong)' };
    case 'CERT_REVOKED':
      return { title: "Upstream's certificate is revoked", reason: 'tls-certificate-revoked', hint: 'its certificate was revoked' };
    case 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED':
    case 'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE':
    case 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN':
    case 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED':
    case 'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED':
    case 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA':
    case 'ERR_SSL_TLSV1_ALERT_ACCESS_DENIED':
      return CLIENT_REFUSED;
    default:
      if (code.startsWith('ERR_SSL_') || code === 'EPROTO' || code.startsWith('ERR_TLS_')) {
        return { title: 'TLS handshake with the upstream failed', reason: 'tls-handshake-failed', hint: 'no protocol version or cipher in common, or it wants a client certificate (tls.certFile)' };
      }
      return undefined;
  }
}

function byCode(err: Error & { code?: string }): Omit<UpstreamFailure, 'upstreamFault'> {
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

/**
 * The problem detail of a failure: PHI-free, names the upstream. `unsent`: no byte of the
 * request was written to it (proxy/resend.ts), which a client deciding whether to send a POST
 * again needs to know.
 */
export function failureDetail(upstream: string, failure: UpstreamFailure, unsent = false): string {
  if (!failure.upstreamFault) return `upstream "${upstream}" closed the connection while the request body was being sent (it may refuse bodies this large)`;
  const detail = `upstream "${upstream}": ${failure.reason}${failure.hint ? ` (${failure.hint})` : ''}`;
  return unsent ? `${detail}; the request was not sent: no byte of it reached the upstream` : detail;
}

/** seconds a client is asked to wait after 503 upstream-busy: a full pool frees up in moments */
export const BUSY_RETRY_AFTER = ['retry-after', '1'];

/** Why a request waited for a connection in vain: the 503 upstream-busy's detail. */
export function busyDetail(name: string, queueMs: number): string {
  return `every connection to upstream "${name}" stayed busy for ${queueMs} ms (timeouts.queueMs)`;
}

/** Why a target's open (or busy half-open) circuit lets a request through to no one: a 503's detail. */
export function circuitDetail(name: string, state: CircuitState): string {
  return state === 'half-open'
    ? `the circuit of upstream "${name}" is half-open: its one trial request is under way, and no other is sent until that one is answered`
    : `the circuit of upstream "${name}" is open`;
}
