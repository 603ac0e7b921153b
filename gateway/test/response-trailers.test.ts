/**
 * An answer with a `Trailer` header that the gateway cannot send chunked: to an HTTP/1.0
 * client, or with a Content-Length. Node refuses the header there (ERR_HTTP_TRAILER_INVALID);
 * before, the client got "HTTP/1.1 502 OK" (the 502 kept the reason phrase the failed head had
 * set) for a healthy answer. Now the announcement and the trailers are dropped and the body is
 * relayed; an HTTP/1.1 client still gets the trailers.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeResponseHead } from '../src/proxy/response-head.js';
import { sendProblem } from '../src/proxy/problem-response.js';
import { quietUpstreamsYaml, startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';
import { rawExchange } from './support/raw-http.js';

let upstream: TcpServer;
let gw: GatewayUnderTest;

/** Answers as bytes (Node's own server would refuse a Trailer header with a Content-Length). */
function answerFor(head: string): string {
  const [method, path] = head.split(' ');
  if (path === '/with-length') return 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 11\r\ntrailer: x-checksum\r\n\r\npart1,part2';
  const chunked = method === 'HEAD' ? '' : '6\r\npart1,\r\n5\r\npart2\r\n0\r\nx-checksum: abc123\r\n\r\n';
  return `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntrailer: x-checksum\r\ntransfer-encoding: chunked\r\n\r\n${chunked}`;
}

beforeAll(async () => {
  upstream = createTcpServer((socket) => {
    let got = '';
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      for (let end = got.indexOf('\r\n\r\n'); end >= 0; end = got.indexOf('\r\n\r\n')) {
        socket.write(answerFor(got.slice(0, end)));
        got = got.slice(end + 4);
      }
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gw = await startGatewayUnderTest({ 'u.yaml': quietUpstreamsYaml({ legacy: url }), 'r.yaml': 'http:\n  - id: legacy-default\n    match: { path: /** }\n    mode: legacy\n' });
});
afterAll(async () => {
  await gw?.close();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

const get = (path: string, version: string, method = 'GET') => rawExchange(gw.url, `${method} ${path} HTTP/${version}\r\nHost: h\r\nConnection: close\r\n\r\n`);

describe('an answer announcing trailers', () => {
  it('reaches an HTTP/1.0 client whole, without the announcement', async () => {
    const got = await get('/chunked', '1.0');
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(got).not.toMatch(/\r\ntrailer:/i);
    expect(got).not.toMatch(/x-checksum/i);
    expect(got.endsWith('\r\n\r\npart1,part2')).toBe(true);
  });

  it('with a Content-Length reaches the client whole, without the announcement', async () => {
    const got = await get('/with-length', '1.1');
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(got).not.toMatch(/\r\ntrailer:/i);
    expect(got.endsWith('\r\n\r\npart1,part2')).toBe(true);
  });

  it('to HEAD is answered with the head, without the announcement', async () => {
    const got = await get('/chunked', '1.1', 'HEAD');
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(got).not.toMatch(/\r\ntrailer:/i);
  });

  it('reaches an HTTP/1.1 client chunked, trailers and all', async () => {
    const got = await get('/chunked', '1.1');
    expect(got).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(got).toMatch(/\r\ntrailer: x-checksum\r\n/i);
    expect(got).toMatch(/\r\n0\r\nx-checksum: abc123\r\n\r\n$/i);
  });
});

describe('a head that cannot be written', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      try {
        // a value Node refuses: writeHead throws after it set the reason phrase
        writeResponseHead(res, req.method, 200, 'OK', ['x-bad', 'a\u0000b'], { contentLength: -1, chunked: false });
      } catch {
        sendProblem(res, 502, 'bad-gateway', 'Upstream request failed', 'test', 'r1', undefined);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('leaves no reason phrase behind: the 502 says "Bad Gateway", not "OK"', async () => {
    const got = await rawExchange(url, 'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    expect(got).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
  });
});
