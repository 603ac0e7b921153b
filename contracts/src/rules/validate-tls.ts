/**
 * The checks of upstreams' `tls` by meaning: only on https:// and mllps:// upstreams, a client
 * certificate with its key, and (unless the caller checks elsewhere) that every file named is
 * there and holds what it should, so a missing or wrong certificate refuses the rules with
 * file:line rather than failing every connection after they were applied.
 */
import { isIP } from 'node:net';
import path from 'node:path';
import type { X509Certificate } from 'node:crypto';
import type { Upstream, UpstreamTls } from './model.js';
import { issue, type Collector, type RuleDocument } from './rule-issues.js';
import { pemCertificates, pemPrivateKey, readTlsFile, tlsAllowed, type TlsFileField } from './upstream-tls.js';

type Field = keyof UpstreamTls;

export function checkUpstreamsTls(c: Collector, upstreams: Record<string, Upstream>, docOf: (name: string) => RuleDocument, readFiles: boolean, env: NodeJS.ProcessEnv = process.env): void {
  for (const [name, u] of Object.entries(upstreams)) {
    if (!u.tls) continue;
    const doc = docOf(name);
    const fail = (field: Field | undefined, reason: string) => c.errors.push(issue(doc, ['upstreams', name, 'tls', ...(field ? [field] : [])], reason));
    const warn = (field: Field, reason: string) => c.warnings.push(issue(doc, ['upstreams', name, 'tls', field], reason));
    checkOne(u.url, u.tls, fail, warn, readFiles, env);
  }
}

function checkOne(url: string, tls: UpstreamTls, refuse: (field: Field | undefined, reason: string) => void, warn: (field: Field, reason: string) => void, readFiles: boolean, env: NodeJS.ProcessEnv): void {
  let refused = false;
  const fail = (field: Field | undefined, reason: string) => {
    refused = true;
    refuse(field, reason);
  };
  if (!tlsAllowed(url)) {
    fail(undefined, `tls is for https:// and mllps:// upstreams; this one is ${url.split(':')[0]}://`);
    return;
  }
  for (const field of ['caFile', 'certFile', 'keyFile'] as const) {
    const file = tls[field];
    if (file === undefined) continue;
    // rule files are exported, versioned and shown in the audit log: a key in one is in every copy
    if (file.includes('-----BEGIN')) fail(field, 'name the file that holds the PEM, never the PEM itself: rule files are exported and audited');
    // rule sets also come over the admin API, with no folder a relative path could be relative to
    else if (!path.isAbsolute(file)) fail(field, `${file}: an absolute path, please (rules also come over the admin API, where no folder is there to be relative to)`);
  }
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    fail(tls.certFile === undefined ? 'keyFile' : 'certFile', 'certFile and keyFile go together: a client certificate is presented with its private key');
  }
  if (tls.passphraseEnv !== undefined && tls.keyFile === undefined) fail('passphraseEnv', 'passphraseEnv opens keyFile, which is not given');
  if (tls.serverName !== undefined && isIP(tls.serverName)) {
    fail('serverName', "an IP address is not a TLS server name; leave serverName out and the certificate is checked against the URL's IP");
  }
  if (!readFiles || refused) return;

  const read = (field: TlsFileField): Buffer | undefined => {
    try {
      return readTlsFile(tls, field);
    } catch (e) {
      fail(field, (e as Error).message);
      return undefined;
    }
  };
  const certificates = (field: 'caFile' | 'certFile'): X509Certificate[] | undefined => {
    const pem = read(field);
    if (!pem) return undefined;
    try {
      const certs = pemCertificates(pem);
      const expired = certs.find((x) => Date.parse(x.validTo) < Date.now());
      if (expired) warn(field, `${tls[field]}: a certificate in it expired on ${new Date(expired.validTo).toISOString().slice(0, 10)}`);
      return certs;
    } catch (e) {
      fail(field, `${tls[field]}: ${(e as Error).message}`);
      return undefined;
    }
  };
  certificates('caFile');
  const chain = certificates('certFile');
  const keyPem = read('keyFile');
  let passphrase: string | undefined;
  if (tls.passphraseEnv !== undefined) {
    passphrase = env[tls.passphraseEnv];
    if (passphrase === undefined) fail('passphraseEnv', `the environment variable ${tls.passphraseEnv} is not set`);
  }
  if (!keyPem || (tls.passphraseEnv !== undefined && passphrase === undefined)) return;
  try {
    const key = pemPrivateKey(keyPem, passphrase);
    if (chain?.[0] && !chain[0].checkPrivateKey(key)) fail('keyFile', `${tls.keyFile}: not the private key of the certificate in ${tls.certFile}`);
  } catch (e) {
    fail('keyFile', `${tls.keyFile}: ${(e as Error).message}`);
  }
}
