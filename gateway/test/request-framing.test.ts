/**
 * Requests a proxy must not pass on as they came: two Host headers (RFC 9112 §3.2: 400, on
 * plain requests and on WebSocket upgrades alike), a chunked request's `Trailer` header,
 * which would announce fields undici never sends upstream, a transfer coding besides
 * chunked (501, RFC 9112 §6.1), which reached the upstream as plain bytes without its header,
 * and a chunked HTTP/1.0 request (400, as nginx). Such a refusal closes the connection, and a
 * request pipelined behind it never reaches an upstream (it did, a POST carried out unanswered).
 * A Content-Length behind a thousand headers still frames the body (Node dropped it unseen).
 */
import { rawExchange } from './support/raw-http.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { legacyDefaultOnly, startLegacyAndNew, type TwoUpstreams } from './support/gateway-harness.js';
import { receivedFor } from './support/test-upstream.js';
import { setTimeout as sleep } from 'node:timers/promises';

let scene: TwoUpstreams;

beforeAll(async () => {
  scene = await startLegacyAndNew(legacyDefaultOnly);
});
afterAll(() => scene?.close());

const exchange = (bytes: string | Buffer) => rawExchange(scene.gw.url, bytes);

describe('a request with two Host headers', () => {
  it('is refused with 400 problem+json and never reaches an upstream', async () => {
    const since = scene.legacy.received.length;
    const got = await exchange('GET /api/patients/100001 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
    expect(got).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(got).toMatch(/\r\ncontent-type: application\/problem\+json/i);
    expect(got).toMatch(/\r\nconnection: close\r\n/i);
    expect(got).toMatch(/more than one Host header/);
    expect(scene.legacy.received.slice(since).map((r) => r.url)).not.toContain('/api/patients/100001');
  });

  it('is refused on the WebSocket upgrade path too', async () => {
    const since = scene.legacy.received.length;
    const got = await exchange(
      'GET /ws/echo HTTP/1.1\r\nHost: a\r\nhost: b\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    expect(got).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(got).toMatch(/\r\ncontent-type: application\/problem\+json/i);
    expect(scene.legacy.received.slice(since).map((r) => r.url)).not.toContain('/ws/echo');
  });

  it('while one Host is served as usual', async () => {
    const got = await exchange('GET /api/patients/100001 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });
});

describe("a chunked request's trailers", () => {
  it('are not announced upstream, as undici does not send them; the body arrives whole', async () => {
    const since = scene.legacy.received.length;
    const got = await exchange(
      'POST /upload HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n' + '5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc123\r\n\r\n',
    );
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const r = receivedFor(scene.legacy, '/upload', since);
    expect(r.bodyBytes).toBe(11);
    expect(r.headers.trailer).toBeUndefined();
  });
});

describe('a request body with a transfer coding besides chunked', () => {
  it('is refused with 501 and never reaches an upstream (it got the gzip bytes as plain ones)', async () => {
    const since = scene.legacy.received.length;
    const got = await exchange('POST /upload-coded HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    expect(got).toMatch(/^HTTP\/1\.1 501 Not Implemented\r\n/);
    expect(got).toMatch(/\r\ncontent-type: application\/problem\+json/i);
    expect(got).toMatch(/transfer-coding-not-implemented/);
    expect(scene.legacy.received.slice(since).map((r) => r.url)).not.toContain('/upload-coded');
  });

  it('while chunked alone, in any case, is relayed', async () => {
    const since = scene.legacy.received.length;
    const got = await exchange('POST /upload-plain HTTP/1.1\r\nHost: a\r\nConnection: close\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(receivedFor(scene.legacy, '/upload-plain', since).bodyBytes).toBe(3);
  });
});

describe('a request pipelined behind one the gateway refuses and closes the connection after', () => {
  const behind = (path: string) => `POST ${path} HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi`;
  const refusals: [name: string, bytes: string, status: string][] = [
    ['two Hosts', 'GET /refused HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n' + behind('/behind-two-hosts'), '400 Bad Request'],
    ['a transfer coding besides chunked', 'POST /refused HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n' + behind('/behind-gzip'), '501 Not Implemented'],
    ['HTTP/1.0 with Transfer-Encoding', 'POST /refused HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n' + behind('/behind-http10'), '400 Bad Request'],
  ];
  it('is never sent upstream: its answer could never be read', async () => {
    const since = scene.legacy.received.length;
    for (const [name, bytes, status] of refusals) {
      const got = await exchange(bytes);
      expect(got, name).toMatch(new RegExp(`^HTTP/1\\.1 ${status}\r\n`));
      // one answer, and the connection closed after it
      expect(got.match(/HTTP\/1\.1 \d{3}/g), name).toHaveLength(1);
    }
    // what went upstream got there long before this; the refused requests never go
    await sleep(200);
    expect(scene.legacy.received.slice(since).map((r) => r.url)).toEqual([]);
  });
});

describe('a request with more than a thousand headers', () => {
  it('reaches the upstream with the body its Content-Length frames', async () => {
    const since = scene.legacy.received.length;
    const pad = 'X-Pad: 1\r\n'.repeat(1500);
    const got = await exchange(`POST /many-headers HTTP/1.1\r\nHost: a\r\nConnection: close\r\n${pad}Content-Length: 5\r\n\r\nhello`);
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const r = receivedFor(scene.legacy, '/many-headers', since);
    expect(r.bodyBytes).toBe(5);
  });
});
