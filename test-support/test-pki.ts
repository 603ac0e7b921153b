/**
 * A hospital's private PKI in miniature, made at test time with the openssl CLI in a temporary
 * folder: a CA, a server certificate for 127.0.0.1 and localhost, and a client certificate it
 * signed (plus an encrypted copy of the client key). Nothing is checked in: the certificates
 * live two days.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestPki {
  dir: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** clientKeyFile's key under the passphrase KEY_PASSPHRASE */
  clientKeyEncryptedFile: string;
  /** for servers: the PEM contents */
  ca: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  remove(): void;
}

export const KEY_PASSPHRASE = 'test-only-passphrase';

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), 'ficus-pki-'));
  const at = (f: string) => path.join(dir, f);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ecKey = (file: string) => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file);

  ecKey('ca.key');
  openssl('req', '-x509', '-new', '-key', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Ficus Test Hospital CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  const issue = (name: string, subject: string, ext: string) => {
    ecKey(`${name}.key`);
    openssl('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', subject);
    writeFileSync(at(`${name}.ext`), ext);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
  };
  issue('server', '/CN=legacy.test', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  issue('client', '/CN=ficus-gateway', 'extendedKeyUsage=clientAuth\n');
  openssl('pkcs8', '-topk8', '-in', 'client.key', '-out', 'client-encrypted.key', '-v2', 'aes-256-cbc', '-passout', `pass:${KEY_PASSPHRASE}`);

  return {
    dir,
    caFile: at('ca.pem'),
    serverCertFile: at('server.pem'),
    serverKeyFile: at('server.key'),
    clientCertFile: at('client.pem'),
    clientKeyFile: at('client.key'),
    clientKeyEncryptedFile: at('client-encrypted.key'),
    ca: readFileSync(at('ca.pem')),
    serverCert: readFileSync(at('server.pem')),
    serverKey: readFileSync(at('server.key')),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
