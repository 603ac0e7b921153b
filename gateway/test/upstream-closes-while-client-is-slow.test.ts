/**
 * Regression: undici 7 (up to 7.30.2) asserts `!this.paused` when an upstream socket ends
 * while its parser is paused by back-pressure, an exception no handler can catch, which would
 * kill the gateway (nodejs/undici#5360, fixed only in undici 8, which needs Node 22). Ficus
 * never pauses on the chunk that completes a body and never pauses unframed (read-until-close)
 * bodies. This test sends both kinds, with the upstream closing the connection after each
 * answer, to clients that read slowly.
 */
import { createHash } from 'node:crypto';
import { connect, createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';

const BODY = Buffer.alloc(24 * 1024 * 1024);
for (let i = 0; i < BODY.length; i++) BODY[i] = (i * 31 + 7) & 0xff;
const SHA = createHash('sha256').update(BODY).digest('hex');

let upstream: Server;
let gw: GatewayUnderTest;

beforeAll(async () => {
  upstream = createServer((sock) => {
    sock.on('error', () => undefined);
    sock.once('data', (req) => {
      const framed = !req.toString().startsWith('GET /unframed');
      const truncated = req.toString().startsWith('GET /truncated');
      sock.write(`HTTP/1.1 200 OK\r\n${framed ? `Content-Length: ${BODY.length}\r\n` : ''}Connection: close\r\nContent-Type: application/octet-stream\r\n\r\n`);
      // FIN right after the body, or (an upstream dying) in the middle of it
      sock.end(truncated ? BODY.subarray(0, BODY.length - 1_000_000) : BODY);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const port = (upstream.address() as { port: number }).port;
  gw = await startGatewayUnderTest({
    'u.yaml': `upstreams:\n  legacy: { url: "http://127.0.0.1:${port}", healthCheck: { enabled: false } }\n`,
    'r.yaml': 'http:\n  - id: all\n    match: { path: /** }\n    mode: legacy\n',
  });
});
afterAll(async () => {
  await gw?.close();
  upstream?.close();
});

/** A client that reads in small sips, so the gateway sees back-pressure again and again. */
async function slowDownload(path: string): Promise<{ sha: string; bytes: number }> {
  const sock = connect(Number(new URL(gw.url).port), '127.0.0.1');
  sock.on('error', () => undefined);
  await new Promise((r) => sock.once('connect', r));
  sock.write(`GET ${path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n`);
  const chunks: Buffer[] = [];
  sock.pause();
  const done = new Promise<void>((r) => sock.once('end', () => r()));
  let ended = false;
  void done.then(() => (ended = true));
  while (!ended) {
    let c: Buffer | null;
    while ((c = sock.read(256 * 1024) as Buffer | null) !== null) chunks.push(c);
    await sleep(2);
    sock.resume();
    sock.pause();
  }
  const raw = Buffer.concat(chunks);
  if (path.startsWith('/truncated')) return { sha: '', bytes: raw.length };
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, split).toString();
  let body = raw.subarray(split + 4);
  if (/transfer-encoding: chunked/i.test(head)) {
    const parts: Buffer[] = [];
    let off = 0;
    for (;;) {
      const eol = body.indexOf('\r\n', off);
      const size = parseInt(body.subarray(off, eol).toString(), 16);
      if (!size) break;
      parts.push(body.subarray(eol + 2, eol + 2 + size));
      off = eol + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  }
  return { sha: createHash('sha256').update(body).digest('hex'), bytes: body.length };
}

describe('upstream closes the connection while the client is slow', () => {
  it('length-framed answers arrive whole, and the gateway survives', async () => {
    for (let i = 0; i < 5; i++) expect(await slowDownload('/framed')).toEqual({ sha: SHA, bytes: BODY.length });
    expect((await fetch(gw.url + '/healthz')).status).toBe(200);
  });

  it('an answer cut short by the upstream is cut short for the client too, and the gateway survives', async () => {
    for (let i = 0; i < 3; i++) {
      const got = await slowDownload('/truncated');
      expect(got.bytes).toBeLessThan(BODY.length);
    }
    expect((await fetch(gw.url + '/healthz')).status).toBe(200);
  });

  it('unframed (read-until-close) answers arrive whole, and the gateway survives', async () => {
    for (let i = 0; i < 5; i++) expect(await slowDownload('/unframed')).toEqual({ sha: SHA, bytes: BODY.length });
    expect((await fetch(gw.url + '/healthz')).status).toBe(200);
  });
});
