/**
 * An upstream that fails in the middle of an answer must never leave the client with a short
 * body it takes for a whole one. To an HTTP/1.0 client the gateway's answer ends with the
 * connection (no chunking), so closing it normally (FIN) said "complete": curl, wget and
 * Python's http.client kept 100 kB of a chunked download whose upstream had died, exit 0.
 * Now such a connection is reset, which every client reports as a failed transfer; answers
 * the client can check (a Content-Length, chunked to an HTTP/1.1 client) are cut as before.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietUpstreamsYaml, startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';

let upstream: Server;
let gw: GatewayUnderTest;

const PART = Buffer.alloc(100_000, 0x61);

/** Each path fails its own way after 100 kB of the body. */
function serve(socket: Socket): void {
  socket.on('error', () => undefined);
  socket.once('data', (d: Buffer) => {
    const path = d.toString('latin1').split(' ')[1];
    if (path === '/chunked-dies') {
      socket.write(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${PART.length.toString(16)}\r\n`);
      socket.write(PART);
      socket.write('\r\n1000\r\nabc');
      setTimeout(() => socket.destroy(), 50);
    } else if (path === '/unframed-stalls') {
      // delimited by the connection's end, then silent past bodyIdleMs: the gateway knows it is cut short
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n\r\n');
      socket.write(PART);
    } else if (path === '/length-dies') {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 300000\r\n\r\n');
      socket.write(PART);
      setTimeout(() => socket.destroy(), 50);
    } else {
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
    }
  });
}

beforeAll(async () => {
  upstream = createServer(serve);
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gw = await startGatewayUnderTest({
    'u.yaml': quietUpstreamsYaml({ legacy: url }).replace('healthCheck', 'timeouts: { connectMs: 500, responseHeadersMs: 2000, bodyIdleMs: 300 }, healthCheck'),
    'r.yaml': 'http:\n  - id: all\n    match: { path: /** }\n    mode: legacy\n',
  });
});
afterAll(async () => {
  await gw?.close();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

interface Download {
  bytes: number;
  /** how the connection ended: a normal close, or an error (a reset) */
  ended: 'end' | string;
  head: string;
}

function download(path: string, version: '1.0' | '1.1'): Promise<Download> {
  return new Promise((resolve) => {
    const socket = connect(Number(new URL(gw.url).port), '127.0.0.1', () => socket.write(`GET ${path} HTTP/${version}\r\nHost: h\r\n${version === '1.1' ? 'Connection: close\r\n' : ''}\r\n`));
    let got = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    const done = (ended: string) => {
      const split = got.indexOf('\r\n\r\n');
      resolve({ bytes: got.length - split - 4, ended, head: got.subarray(0, split).toString('latin1') });
    };
    socket.on('end', () => done('end'));
    socket.on('error', (e: Error & { code?: string }) => done(e.code ?? e.message));
  });
}

describe('an answer the upstream does not finish, to an HTTP/1.0 client', () => {
  it('chunked upstream dying mid-body: the client connection is reset, not ended as if whole', async () => {
    const got = await download('/chunked-dies', '1.0');
    expect(got.head).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(got.head).not.toMatch(/content-length|transfer-encoding/i);
    expect(got.ended).toBe('ECONNRESET');
  });

  it('a body delimited by the connection that stalls past bodyIdleMs: reset too', async () => {
    const got = await download('/unframed-stalls', '1.0');
    expect(got.ended).toBe('ECONNRESET');
  });

  it('a Content-Length the client can check against is cut as before', async () => {
    const got = await download('/length-dies', '1.0');
    expect(got.head).toMatch(/\r\ncontent-length: 300000/i);
    expect(got.bytes).toBeLessThan(300_000);
  });

  it('a whole answer still ends normally', async () => {
    const got = await download('/whole', '1.0');
    expect(got).toMatchObject({ bytes: 2, ended: 'end' });
  });
});

describe('the same to an HTTP/1.1 client', () => {
  it('is chunked by the gateway and cut without its last chunk', async () => {
    const got = await download('/unframed-stalls', '1.1');
    expect(got.head).toMatch(/\r\ntransfer-encoding: chunked/i);
    expect(got.bytes).toBeGreaterThan(PART.length);
  });
});
