/**
 * The TLS settings of an https:// upstream's connections, from what the rules named
 * (contracts' upstream-tls.ts): the pool, the health checks and the WebSocket pass-through all
 * connect with the same ones. The upstream's certificate is always verified.
 */
import { isIP } from 'node:net';
import type { buildConnector } from 'undici';
import type { UpstreamTlsMaterial } from '@ficus/contracts';

/** The name the upstream's certificate is checked against: `tls.serverName`, else the URL's host. */
export function upstreamServerName(origin: URL, tls: UpstreamTlsMaterial | undefined): string {
  return tls?.servername ?? origin.hostname.replace(/^\[|\]$/g, '');
}

export interface TlsConnectOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  passphrase?: string;
  servername: string;
  rejectUnauthorized: true;
}

export function tlsConnectOptions(origin: URL, tls: UpstreamTlsMaterial | undefined): TlsConnectOptions {
  const name = upstreamServerName(origin, tls);
  return {
    ...(tls?.ca ? { ca: tls.ca } : {}),
    ...(tls?.cert ? { cert: tls.cert } : {}),
    ...(tls?.key ? { key: tls.key } : {}),
    ...(tls?.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
    // an IP is sent no SNI (RFC 6066 allows only host names); the certificate is checked against the IP
    servername: isIP(name) ? '' : name,
    rejectUnauthorized: true,
  };
}

/** The upstream's certificate does not carry its name (ERR_TLS_CERT_ALTNAME_INVALID), under a code undici does not handle apart. */
export class TlsHostnameMismatchError extends Error {
  readonly code = 'FICUS_TLS_HOSTNAME_MISMATCH';
  readonly tlsCode = 'ERR_TLS_CERT_ALTNAME_INVALID';
  constructor(cause: Error) {
    super(cause.message, { cause });
  }
}

const kTlsError = Symbol('ficus.tlsError');
type WithTlsError = { [kTlsError]?: Error; destroyed: boolean; destroy(e: Error): void };

function keepTlsError(this: WithTlsError, err: Error & { code?: string }): void {
  if (err.code?.startsWith('ERR_SSL_')) this[kTlsError] ??= err;
}

function endWithTlsError(this: WithTlsError): void {
  const err = this[kTlsError];
  if (err && !this.destroyed) this.destroy(err);
}

/**
 * The connector of an upstream's connections (the pool's, the health checks'):
 *
 * - it connects with its own server name, never one undici derived from a request's Host header
 *   (the client's, with preserveHost);
 * - an alert the upstream sent before closing (TLS 1.3 checks the client certificate after the
 *   handshake: "certificate required", "unknown CA") is what the request fails with. undici
 *   took the close that followed as the reason ("other side closed": 502 connection-lost), and
 *   the operator never learnt that the upstream wanted a client certificate;
 * - a certificate for another host name is reported under a code of its own: undici 7 handles
 *   ERR_TLS_CERT_ALTNAME_INVALID apart (for servernames that differ between requests, which a
 *   pinned one never does) and left its client unable to close (a health check's Client.close()
 *   never resolved, and the gateway's shutdown waited for it).
 */
export function upstreamConnector(connect: buildConnector.connector): buildConnector.connector {
  return (opts, callback) =>
    connect({ ...opts, servername: undefined }, (connectError, socket) => {
      const err = (connectError as { code?: string } | null)?.code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? new TlsHostnameMismatchError(connectError!) : connectError;
      if (socket) {
        socket.prependListener('error', keepTlsError);
        socket.prependListener('end', endWithTlsError);
      }
      (callback as (e: Error | null, s: typeof socket | null) => void)(err, socket);
    });
}
