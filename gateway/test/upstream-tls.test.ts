/**
 * https:// upstreams with a hospital's own CA and client certificates (mutual TLS): real TLS
 * servers on real ports, certificates made for the test with openssl (test-support/test-pki.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import WebSocket, { WebSocketServer } from 'ws';
import { makeTestPki, type TestPki } from '../../test-support/test-pki.js';
import { until } from '../../test-support/until.js';
import { startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';

let pki: TestPki;
let plain: Server;
let mutual: Server;
let gw: GatewayUnderTest;
/** what the mutual-TLS server saw of the client certificates it was shown */
const clientNames: string[] = [];
/** bytes no text decoding would keep as they are */
const BODY = Buffer.from([0, 1, 2, 0xc3, 0x28, 0xff, 0xfe, 13, 10, 0x80, ...Buffer.from(' ward 7 ')]);

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function handler(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === '/healthz') return void res.end('ok');
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-upstream-saw-host': req.headers.host ?? '' });
  res.end(BODY);
}

beforeAll(async () => {
  pki = makeTestPki();
  plain = createServer({ cert: pki.serverCert, key: pki.serverKey }, handler);
  // the upstream's WebSocket endpoint echoes
  new WebSocketServer({ server: plain, path: '/ws/echo' }).on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  mutual = createServer({ cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    clientNames.push(String(peer.subject?.CN));
    handler(req, res);
  });
  const [p, m] = [await listen(plain), await listen(mutual)];
  const tls = (lines: string) => `    healthCheck: { intervalMs: 200, timeoutMs: 1000, unhealthyAfter: 1, healthyAfter: 1 }\n    tls: { ${lines} }\n`;
  const rule = (name: string) => `  - id: via-${name}\n    match: { path: /${name}/** }\n    mode: legacy\n    legacy: ${name}\n`;
  const names = ['trusted', 'untrusted', 'mutual', 'mutual-no-cert', 'wrong-name'];
  gw = await startGatewayUnderTest({
    '00-upstreams.yaml':
      'upstreams:\n' +
      `  legacy:\n    url: https://localhost:${p}\n` + tls(`caFile: ${pki.caFile}`) +
      `  trusted:\n    url: https://127.0.0.1:${p}\n` + tls(`caFile: ${pki.caFile}`) +
      // a certificate that is no CA's: nothing is signed by it
      `  untrusted:\n    url: https://127.0.0.1:${p}\n    circuitBreaker: { failureThreshold: 1, openMs: 60000 }\n    healthCheck: { enabled: false }\n    tls: { caFile: ${pki.clientCertFile} }\n` +
      `  untrusted-checked:\n    url: https://127.0.0.1:${p}\n` + tls(`caFile: ${pki.clientCertFile}`) +
      `  mutual:\n    url: https://localhost:${m}\n` + tls(`caFile: ${pki.caFile}, certFile: ${pki.clientCertFile}, keyFile: ${pki.clientKeyFile}`) +
      `  mutual-no-cert:\n    url: https://localhost:${m}\n` + tls(`caFile: ${pki.caFile}`) +
      `  wrong-name:\n    url: https://127.0.0.1:${p}\n` + tls(`caFile: ${pki.caFile}, serverName: billing.hospital.example`),
    '10-http.yaml': 'http:\n' + names.map(rule).join('') + '  - id: legacy-default\n    match: { path: /** }\n    mode: legacy\n',
  });
});
afterAll(async () => {
  await gw?.close();
  plain?.closeAllConnections();
  mutual?.closeAllConnections();
  await Promise.all([plain, mutual].map((s) => s && new Promise((r) => s.close(r))));
  pki?.remove();
});

async function problem(res: Response): Promise<{ status: number; type: string | null; detail: string }> {
  return { status: res.status, type: res.headers.get('content-type'), detail: ((await res.json()) as { detail: string }).detail };
}

describe('https:// upstreams with a private CA', () => {
  it('answers a GET byte for byte as the upstream does directly', async () => {
    const port = (plain.address() as AddressInfo).port;
    const direct = await request(`https://localhost:${port}/api/blob`, { dispatcher: new Agent({ connect: { ca: pki.ca } }) });
    const directBody = Buffer.from(await direct.body.arrayBuffer());
    for (const path of ['/api/blob', '/trusted/api/blob']) {
      const res = await fetch(gw.url + path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(direct.headers['content-type']);
      expect(Buffer.from(await res.arrayBuffer()).equals(directBody)).toBe(true);
    }
    expect(directBody.equals(BODY)).toBe(true);
  });

  it("checks the certificate against the upstream's own name, not the client's Host (preserveHost)", async () => {
    for (const host of ['ficus.hospital.example', 'wards.hospital.example']) {
      const res = await request(gw.url + '/api/blob', { headers: { host } });
      expect(res.statusCode).toBe(200);
      await res.body.dump();
      // the Host header still goes through as the client sent it
      expect(res.headers['x-upstream-saw-host']).toBe(host);
    }
  });

  it('gives 502 naming the TLS reason when the upstream is not signed by the CA, and counts it against the circuit', async () => {
    const upstream = gw.gateway.runtime.upstreams.get('untrusted')!;
    expect(upstream.breaker.current).toBe('closed');
    const p = await problem(await fetch(gw.url + '/untrusted/api/blob'));
    expect(p).toEqual({ status: 502, type: 'application/problem+json', detail: expect.stringMatching(/^upstream "untrusted": tls-untrusted-certificate \(.*tls\.caFile/) });
    // a connection failure: the one failure its circuit takes opens it
    expect(upstream.breaker.current).toBe('open');
  });

  it("refuses an upstream whose certificate does not carry tls.serverName", async () => {
    const p = await problem(await fetch(gw.url + '/wrong-name/api/blob'));
    expect(p).toEqual({ status: 502, type: 'application/problem+json', detail: expect.stringMatching(/^upstream "wrong-name": tls-hostname-mismatch/) });
  });

  it('marks an upstream healthy only when its certificate is trusted', async () => {
    const health = (name: string) => gw.gateway.runtime.upstreams.get(name)!.health;
    await until(() => health('trusted').health === 'healthy' && health('untrusted-checked').health === 'unhealthy', 'health checks over TLS', 5_000);
    expect(health('untrusted-checked').lastError).toMatch(/certificate/);
    expect(health('mutual').health).toBe('healthy');
  });
});

describe('mutual TLS', () => {
  it('presents the client certificate to an upstream that requires one', async () => {
    const res = await fetch(gw.url + '/mutual/api/blob');
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(BODY)).toBe(true);
    expect(clientNames).toContain('ficus-gateway');
  });

  it('gives 502 naming the TLS reason without one', async () => {
    const p = await problem(await fetch(gw.url + '/mutual-no-cert/api/blob'));
    expect(p).toEqual({ status: 502, type: 'application/problem+json', detail: expect.stringMatching(/^upstream "mutual-no-cert": tls-client-certificate-refused \(.*tls\.certFile/) });
  });
});

describe('WebSocket over wss://', () => {
  it('echoes through the gateway to an https:// upstream with a private CA', async () => {
    const ws = new WebSocket(gw.url.replace('http', 'ws') + '/ws/echo', { headers: { host: 'ficus.hospital.example' } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`answered ${res.statusCode}`)));
    });
    const echoed = new Promise<Buffer>((resolve) => ws.once('message', (data) => resolve(data as Buffer)));
    ws.send(BODY);
    expect((await echoed).equals(BODY)).toBe(true);
    ws.close();
  });
});

describe('certificate rotation', () => {
  it('takes up a replaced CA file without a restart: the rule folder reloads and the pool is replaced', async () => {
    const caFile = path.join(pki.dir, 'rotating-ca.pem');
    // first a file the upstream's certificate does not chain to
    copyFileSync(pki.clientCertFile, caFile);
    const port = (plain.address() as AddressInfo).port;
    gw.writeRules('05-rotating.yaml', `upstreams:\n  rotating:\n    url: https://127.0.0.1:${port}\n    healthCheck: { enabled: false }\n    tls: { caFile: ${caFile} }\nhttp:\n  - id: via-rotating\n    match: { path: /rotating/** }\n    mode: legacy\n    legacy: rotating\n`);
    await until(async () => gw.gateway.runtime.upstreams.get('rotating') !== undefined, 'the new upstream', 5_000);
    expect((await fetch(gw.url + '/rotating/api/blob')).status).toBe(502);
    writeFileSync(caFile, pki.ca);
    await until(async () => (await fetch(gw.url + '/rotating/api/blob')).status === 200, 'the rotated CA taken up', 5_000);
  });
});
