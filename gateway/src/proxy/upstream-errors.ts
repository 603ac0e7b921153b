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
  return { ...byCode(err), upstreamFault: true };
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

/** The problem detail of a failure: PHI-free, names the upstream. */
export function failureDetail(upstream: string, failure: UpstreamFailure): string {
  if (!failure.upstreamFault) return `upstream "${upstream}" closed the connection while the request body was being sent (it may refuse bodies this large)`;
  return `upstream "${upstream}": ${failure.reason}`;
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
