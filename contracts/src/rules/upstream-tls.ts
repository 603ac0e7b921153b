/**
 * TLS to an upstream (https://, mllps://): the hospital's own CA, a client certificate for an
 * upstream that asks for one (mutual TLS), the server name. The rules name files; they are read
 * when the rules are checked (validate-tls.ts) and again when a deployable compiles the rules
 * into connections (loadUpstreamTls), so a rotated certificate is taken up by the next rule
 * reload. The upstream's certificate is always verified: there is no switch to turn that off,
 * since an unverified connection to a hospital system hands patient data to whoever answers.
 */
import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { UpstreamTls } from './model.js';

export interface UpstreamTlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  passphrase?: string;
  /** SNI and the name the certificate is checked against; undefined: the URL's host (no SNI for an IP) */
  servername?: string;
  /** changes when any of the above does: a connection made with other material is not reused */
  fingerprint: string;
}

export function tlsAllowed(url: string): boolean {
  return /^(https|mllps):/i.test(url);
}

/** Why a file cannot be read, in words (no contents). */
export function unreadable(e: NodeJS.ErrnoException): string {
  switch (e.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
      return 'this process may not read it (permission denied)';
    case 'EISDIR':
      return 'a folder, not a file';
    default:
      return e.code ?? e.message;
  }
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Every certificate of a PEM bundle; throws with a reason when there is none, or one does not parse. */
export function pemCertificates(pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('latin1').match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error('holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (e) {
      throw new Error(`certificate ${i + 1} in it does not parse (${(e as Error).message})`);
    }
  });
}

/** The private key of a PEM file; throws with a reason (never the key) when it cannot be opened. */
export function pemPrivateKey(pem: Buffer, passphrase: string | undefined): KeyObject {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem.toString('latin1'))) throw new Error('holds no PEM private key (-----BEGIN … PRIVATE KEY-----)');
  try {
    return createPrivateKey({ key: pem, format: 'pem', ...(passphrase !== undefined ? { passphrase } : {}) });
  } catch (e) {
    const encrypted = /ENCRYPTED/.test(pem.toString('latin1'));
    if (encrypted && passphrase === undefined) throw new Error('the key is encrypted: name the environment variable holding its passphrase in passphraseEnv');
    throw new Error(`the key does not open${encrypted ? ' with the passphrase given' : ''} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

export type TlsFileField = 'caFile' | 'certFile' | 'keyFile';

/** The file a `tls` field names (undefined when it names none); throws `<file>: <why it cannot be read>`. */
export function readTlsFile(tls: UpstreamTls, field: TlsFileField): Buffer | undefined {
  const file = tls[field];
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (e) {
    throw new Error(`${file}: ${unreadable(e as NodeJS.ErrnoException)}`);
  }
}

/**
 * Reads the files an upstream's `tls` names, for connections. Throws (with the field and the
 * reason) if one cannot be read; the rules were checked just before, so that is a file removed
 * in between.
 */
export function loadUpstreamTls(tls: UpstreamTls | undefined, env: NodeJS.ProcessEnv = process.env): UpstreamTlsMaterial | undefined {
  if (!tls) return undefined;
  const read = (field: TlsFileField): Buffer | undefined => {
    try {
      return readTlsFile(tls, field);
    } catch (e) {
      throw new Error(`tls.${field} ${(e as Error).message}`);
    }
  };
  const ca = read('caFile');
  const cert = read('certFile');
  const key = read('keyFile');
  const passphrase = tls.passphraseEnv !== undefined ? env[tls.passphraseEnv] : undefined;
  const hash = createHash('sha256');
  for (const part of [ca, cert, key, passphrase, tls.serverName]) hash.update(part === undefined ? '-' : `${Buffer.byteLength(part)}:`).update(part ?? '');
  return {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
    ...(passphrase !== undefined ? { passphrase } : {}),
    ...(tls.serverName !== undefined ? { servername: tls.serverName } : {}),
    fingerprint: hash.digest('hex'),
  };
}

/** The files an upstream's `tls` names (for watching them). */
export function tlsFiles(tls: UpstreamTls | undefined): string[] {
  return tls ? [tls.caFile, tls.certFile, tls.keyFile].filter((f): f is string => f !== undefined) : [];
}
