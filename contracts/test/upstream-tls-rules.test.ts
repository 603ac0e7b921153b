/**
 * An upstream's `tls` in rule files: checked by meaning when the rules are loaded, each refusal
 * located at file:line with its reason (the rules would otherwise apply and every connection fail).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatIssue, loadRuleDir, loadUpstreamTls, resolveUpstream, type ValidationResult } from '../src/index.js';
import { KEY_PASSPHRASE, makeTestPki, type TestPki } from '../../test-support/test-pki.js';

let pki: TestPki;
let dir: string;

beforeAll(() => {
  pki = makeTestPki();
  dir = mkdtempSync(path.join(tmpdir(), 'ficus-tls-rules-'));
  writeFileSync(path.join(dir, 'not-pem.txt'), 'this is not a certificate\n');
});
afterAll(() => {
  pki?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const HTTP = `http:
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;

/** A rule folder whose 00-upstreams.yaml declares "inbound" with the `tls` lines given (indented under it), beside an http:// legacy. */
async function load(url: string, tlsLines: string[], env?: NodeJS.ProcessEnv): Promise<ValidationResult> {
  const rules = mkdtempSync(path.join(tmpdir(), 'ficus-tls-rules-'));
  try {
    writeFileSync(path.join(rules, '00-upstreams.yaml'), `upstreams:\n  legacy: { url: http://127.0.0.1:8000 }\n  inbound:\n    url: ${url}\n    tls:\n${tlsLines.map((l) => `      ${l}\n`).join('')}`);
    writeFileSync(path.join(rules, '10-http.yaml'), HTTP);
    if (env) {
      const before = { ...process.env };
      Object.assign(process.env, env);
      try {
        return await loadRuleDir(rules);
      } finally {
        for (const k of Object.keys(env)) if (!(k in before)) delete process.env[k];
      }
    }
    return await loadRuleDir(rules);
  } finally {
    rmSync(rules, { recursive: true, force: true });
  }
}

const issues = (r: ValidationResult) => (r.ok ? [] : r.errors.map((e) => formatIssue(e).replace(/^.*00-upstreams\.yaml/, '00-upstreams.yaml')));

describe('an upstream\'s tls in the rules', () => {
  it('takes a CA, a client certificate and its key, and compiles them for connections', async () => {
    const r = await load('https://127.0.0.1:8443', [`caFile: ${pki.caFile}`, `certFile: ${pki.clientCertFile}`, `keyFile: ${pki.clientKeyFile}`, 'serverName: localhost']);
    expect(issues(r)).toEqual([]);
    expect(r.ok && r.warnings).toEqual([]);
    const resolved = resolveUpstream(r.ok ? r.ruleSet.upstreams.inbound! : { url: '' });
    expect(resolved.tls?.ca?.equals(pki.ca)).toBe(true);
    expect(resolved.tls?.servername).toBe('localhost');
    // the declaration's paths are not carried into the compiled upstream
    expect(JSON.stringify(Object.keys(resolved))).not.toMatch(/caFile/);
  });

  it('opens an encrypted key with the passphrase from the environment variable it names', async () => {
    const lines = [`certFile: ${pki.clientCertFile}`, `keyFile: ${pki.clientKeyEncryptedFile}`, 'passphraseEnv: TEST_TLS_KEY_PASSPHRASE'];
    expect(issues(await load('mllps://127.0.0.1:2575', lines, { TEST_TLS_KEY_PASSPHRASE: KEY_PASSPHRASE }))).toEqual([]);
    expect(issues(await load('mllps://127.0.0.1:2575', lines))).toEqual(['00-upstreams.yaml:8:7: field "passphraseEnv": the environment variable TEST_TLS_KEY_PASSPHRASE is not set']);
    expect(issues(await load('mllps://127.0.0.1:2575', lines, { TEST_TLS_KEY_PASSPHRASE: 'wrong' }))).toEqual([expect.stringMatching(/^00-upstreams\.yaml:7:7: field "keyFile": .*client-encrypted\.key: the key does not open with the passphrase given/)]);
  });

  it('refuses a file that is not there, with file, line and reason', async () => {
    const missing = path.join(dir, 'nowhere.pem');
    expect(issues(await load('https://127.0.0.1:8443', [`caFile: ${missing}`]))).toEqual([`00-upstreams.yaml:6:7: field "caFile": ${missing}: no such file`]);
  });

  it('refuses a file that holds no PEM certificate or key', async () => {
    const notPem = path.join(dir, 'not-pem.txt');
    expect(issues(await load('https://127.0.0.1:8443', [`caFile: ${notPem}`]))).toEqual([`00-upstreams.yaml:6:7: field "caFile": ${notPem}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)`]);
    expect(issues(await load('https://127.0.0.1:8443', [`certFile: ${pki.clientCertFile}`, `keyFile: ${notPem}`]))).toEqual([
      `00-upstreams.yaml:7:7: field "keyFile": ${notPem}: holds no PEM private key (-----BEGIN … PRIVATE KEY-----)`,
    ]);
    // a key that is not the certificate's
    expect(issues(await load('https://127.0.0.1:8443', [`certFile: ${pki.clientCertFile}`, `keyFile: ${pki.serverKeyFile}`]))).toEqual([
      `00-upstreams.yaml:7:7: field "keyFile": ${pki.serverKeyFile}: not the private key of the certificate in ${pki.clientCertFile}`,
    ]);
  });

  it('refuses a client certificate without its key (and a key without its certificate)', async () => {
    expect(issues(await load('https://127.0.0.1:8443', [`certFile: ${pki.clientCertFile}`]))).toEqual([
      '00-upstreams.yaml:6:7: field "certFile": certFile and keyFile go together: a client certificate is presented with its private key',
    ]);
    expect(issues(await load('https://127.0.0.1:8443', [`keyFile: ${pki.clientKeyFile}`]))).toEqual([
      '00-upstreams.yaml:6:7: field "keyFile": certFile and keyFile go together: a client certificate is presented with its private key',
    ]);
  });

  it('refuses tls on an http:// or mllp:// upstream, which would connect in clear text all the same', async () => {
    expect(issues(await load('http://127.0.0.1:8000', [`caFile: ${pki.caFile}`]))).toEqual(['00-upstreams.yaml:5:5: field "tls": tls is for https:// and mllps:// upstreams; this one is http://']);
    expect(issues(await load('mllp://127.0.0.1:2575', [`caFile: ${pki.caFile}`]))).toEqual(['00-upstreams.yaml:5:5: field "tls": tls is for https:// and mllps:// upstreams; this one is mllp://']);
  });

  it('refuses PEM written into the rule file (rule files are exported and audited), an IP as server name, and unknown keys', async () => {
    expect(issues(await load('https://127.0.0.1:8443', ['caFile: "-----BEGIN CERTIFICATE-----\\nMIIB"']))).toEqual([
      '00-upstreams.yaml:6:7: field "caFile": name the file that holds the PEM, never the PEM itself: rule files are exported and audited',
    ]);
    expect(issues(await load('https://127.0.0.1:8443', ['caFile: certs/ca.pem']))).toEqual([expect.stringMatching(/^00-upstreams\.yaml:6:7: field "caFile": certs\/ca\.pem: an absolute path/)]);
    expect(issues(await load('https://127.0.0.1:8443', ['serverName: 10.1.2.3']))).toEqual([expect.stringMatching(/^00-upstreams\.yaml:6:7: field "serverName": an IP address is not a TLS server name/)]);
    expect(issues(await load('https://127.0.0.1:8443', ['rejectUnauthorized: false']))).toEqual(['00-upstreams.yaml:6:7: field "rejectUnauthorized": unknown field "rejectUnauthorized"']);
  });

  it('reads the files again when compiled: a rotated certificate has another fingerprint', () => {
    const copy = path.join(dir, 'ca-copy.pem');
    writeFileSync(copy, pki.ca);
    const before = loadUpstreamTls({ caFile: copy })!;
    writeFileSync(copy, Buffer.concat([pki.ca, pki.serverCert]));
    const after = loadUpstreamTls({ caFile: copy })!;
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect(loadUpstreamTls({ caFile: copy })!.fingerprint).toBe(after.fingerprint);
  });
});
