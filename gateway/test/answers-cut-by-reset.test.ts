/**
 * An upstream whose connection is reset (RST, not a clean FIN) in the middle of an answer: the
 * client must see an incomplete message, whatever the framing. undici 7 takes an ECONNRESET on
 * a connection that is not kept alive for the end of the answer (client-h1.js, for macOS), so a
 * body delimited by the connection's end (no Content-Length, no chunks) ended normally: the
 * client got a terminating chunk, or a clean close, and a chart cut short looked whole.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietUpstreamsYaml, startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';

let upstream: Server;
let gw: GatewayUnderTest;

const PART = Buffer.alloc(100_000, 0x61);
const TERMINATOR = '\r\n0\r\n\r\n';

/** Each path sends its head and 100 kB of body, then resets the connection; /whole ends cleanly. */
function serve(socket: Socket): void {
  socket.on('error', () => undefined);
  socket.once('data', (d: Buffer) => {
    const path = d.toString('latin1').split(' ')[1] ?? '';
    const head = path.startsWith('/length')
      ? 'HTTP/1.1 200 OK\r\ncontent-length: 300000\r\nconnection: close\r\n\r\n'
      : path.startsWith('/chunked')
        ? `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n${PART.length.toString(16)}\r\n`
        : 'HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n\r\n';
    socket.write(head);
    socket.write(PART);
    if (path.startsWith('/whole')) socket.end();
    else setTimeout(() => socket.resetAndDestroy(), 50);
  });
}

beforeAll(async () => {
  upstream = createServer(serve);
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gw = await startGatewayUnderTest({
    'u.yaml': quietUpstreamsYaml({ legacy: url }),
    'r.yaml': 'http:\n  - id: all\n    match: { path: /** }\n    mode: legacy\n',
  });
});
afterAll(async () => {
  await gw?.close();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

interface Download {
  head: string;
  body: Buffer;
  /** how the connection ended: a normal close, or an error (a reset) */
  ended: string;
}

function download(path: string, version: '1.0' | '1.1'): Promise<Download> {
  return new Promise((resolve) => {
    const socket = connect(Number(new URL(gw.url).port), '127.0.0.1', () => socket.write(`GET ${path} HTTP/${version}\r\nHost: h\r\n${version === '1.1' ? 'Connection: close\r\n' : ''}\r\n`));
    let got = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    const done = (ended: string) => {
      const split = got.indexOf('\r\n\r\n');
      resolve({ head: got.subarray(0, split).toString('latin1'), body: got.subarray(split + 4), ended });
    };
    socket.on('end', () => done('end'));
    socket.on('error', (e: Error & { code?: string }) => done(e.code ?? e.message));
  });
}

async function cutAnswers(): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('ficus_answers_cut_total{rule="all",upstream="legacy",reason="connection-lost"}'));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('an upstream that resets its connection in the middle of an answer', () => {
  it('delimited by the connection, to an HTTP/1.1 client: no terminating chunk, counted as cut', async () => {
    const before = await cutAnswers();
    const got = await download('/unframed', '1.1');
    expect(got.head).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(got.head).toMatch(/\r\ntransfer-encoding: chunked/i);
    expect(got.body.length).toBeGreaterThan(PART.length);
    expect(got.body.toString('latin1').endsWith(TERMINATOR)).toBe(false);
    expect(await cutAnswers()).toBe(before + 1);
  });

  it('delimited by the connection, to an HTTP/1.0 client: the connection is reset, not closed as if whole', async () => {
    const got = await download('/unframed', '1.0');
    expect(got.head).not.toMatch(/content-length|transfer-encoding/i);
    expect(got.ended).toBe('ECONNRESET');
  });

  it('with a Content-Length: fewer bytes than it says', async () => {
    for (const version of ['1.0', '1.1'] as const) {
      const got = await download('/length', version);
      expect(got.head).toMatch(/\r\ncontent-length: 300000/i);
      expect(got.body.length).toBeLessThan(300_000);
    }
  });

  it('chunked: no terminating chunk (HTTP/1.1), a reset (HTTP/1.0)', async () => {
    const chunked = await download('/chunked', '1.1');
    expect(chunked.body.length).toBeGreaterThan(PART.length);
    expect(chunked.body.toString('latin1').endsWith(TERMINATOR)).toBe(false);
    expect((await download('/chunked', '1.0')).ended).toBe('ECONNRESET');
  });

  it('an answer delimited by a clean close still ends as a whole one', async () => {
    const got = await download('/whole', '1.1');
    expect(got.body.toString('latin1').endsWith(TERMINATOR)).toBe(true);
    expect(got.ended).toBe('end');
    expect((await download('/whole', '1.0')).ended).toBe('end');
  });
});
