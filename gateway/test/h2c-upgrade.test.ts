/**
 * A client that offers an upgrade to h2c (Java's HttpClient on every http:// request, `curl
 * --http2`) gets its answer as HTTP/1.1, through the rules, on a connection that stays usable;
 * the offer never reaches an upstream. WebSocket upgrades still pass (websocket.test.ts).
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quietUpstreamsYaml, startLegacyAndNew, type TwoUpstreams } from './support/gateway-harness.js';
import { receivedFor } from './support/test-upstream.js';

let scene: TwoUpstreams;

beforeAll(async () => {
  scene = await startLegacyAndNew((u) => ({
    'u.yaml': quietUpstreamsYaml({ legacy: u.legacy, 'new-svc': u.fresh }),
    'r.yaml': `http:
  - id: to-new
    match: { path: /new/** }
    mode: new
    target: new-svc
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`,
  }));
});
afterAll(() => scene?.close());

const H2C_OFFER = 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n';

interface Answer {
  head: string;
  body: string;
}

function dechunk(data: Buffer): string {
  const parts: Buffer[] = [];
  for (let at = 0; at < data.length; ) {
    const eol = data.indexOf('\r\n', at);
    const size = parseInt(data.subarray(at, eol).toString(), 16);
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts).toString();
}

/** A client on one connection: writes bytes, reads answers framed by Content-Length or chunks. */
function client(port: number) {
  const socket: Socket = connect(port, '127.0.0.1');
  let buffer = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  socket.on('data', (d: Buffer) => {
    buffer = Buffer.concat([buffer, d]);
    wake?.();
  });
  socket.on('end', () => wake?.());
  const more = () => new Promise<void>((resolve) => (wake = resolve));
  return {
    socket,
    write: (s: string | Buffer) => socket.write(s),
    async answer(): Promise<Answer> {
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end >= 0) {
          const head = buffer.subarray(0, end).toString('latin1');
          const length = /\r\ncontent-length: *(\d+)/i.exec(head);
          const chunked = /\r\ntransfer-encoding: *chunked/i.test(head);
          const rest = buffer.subarray(end + 4);
          if (length && rest.length >= Number(length[1])) {
            buffer = rest.subarray(Number(length[1]));
            return { head, body: rest.subarray(0, Number(length[1])).toString() };
          }
          const last = rest.indexOf('\r\n0\r\n\r\n');
          if (chunked && last >= 0) {
            buffer = rest.subarray(last + 7);
            return { head, body: dechunk(rest.subarray(0, last + 2)) };
          }
          if (!length && !chunked) throw new Error(`an answer without framing: ${head}`);
        }
        if (socket.readableEnded) throw new Error(`connection closed with ${buffer.length} bytes unread: ${buffer.toString('latin1')}`);
        await more();
      }
    },
  };
}

describe('an h2c upgrade offer', () => {
  it('is answered as HTTP/1.1 through the rules, and the connection carries the next request', async () => {
    const since = scene.legacy.received.length;
    const c = client(Number(new URL(scene.gw.url).port));
    c.write(`GET /api/patients/100001 HTTP/1.1\r\nHost: ward7.example\r\n${H2C_OFFER}x-trace: a\r\n\r\n`);
    const first = await c.answer();
    expect(first.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(first.head).toMatch(/\r\nx-ficus-route: legacy-default; legacy\r\n/i);
    expect(first.head).not.toMatch(/\r\nupgrade:/i);
    expect(first.body).toBe('legacy');
    const got = receivedFor(scene.legacy, '/api/patients/100001', since);
    expect(got.headers.upgrade).toBeUndefined();
    expect(got.headers['http2-settings']).toBeUndefined();
    expect(got.headers['x-trace']).toBe('a');

    c.write(`GET /new/orders/7 HTTP/1.1\r\nHost: ward7.example\r\n\r\n`);
    const second = await c.answer();
    expect(second.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(second.head).toMatch(/\r\nx-ficus-route: to-new; new-svc\r\n/i);
    expect(second.body).toBe('new');
    c.socket.destroy();
  });

  it('keeps a request body, sized or chunked, whole', async () => {
    const since = scene.fresh.received.length;
    const c = client(Number(new URL(scene.gw.url).port));
    const body = Buffer.alloc(3 * 1024 * 1024, 'x');
    c.write(`POST /new/results HTTP/1.1\r\nHost: h\r\n${H2C_OFFER}Content-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n`);
    c.write(body);
    const sized = await c.answer();
    expect(sized.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(receivedFor(scene.fresh, '/new/results', since).bodyBytes).toBe(body.length);

    const since2 = scene.fresh.received.length;
    const d = client(Number(new URL(scene.gw.url).port));
    d.write(`PUT /new/notes HTTP/1.1\r\nHost: h\r\n${H2C_OFFER}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`);
    await new Promise((r) => setTimeout(r, 50));
    d.write('6\r\n world\r\n0\r\n\r\n');
    const chunked = await d.answer();
    expect(chunked.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(receivedFor(scene.fresh, '/new/notes', since2).bodyBytes).toBe(11);
    c.socket.destroy();
    d.socket.destroy();
  });

  it('serves any upgrade but a WebSocket handshake as HTTP/1.1 too: TLS, a POST asking for websocket, a mixed offer', async () => {
    for (const [request, route] of [
      ['GET /x HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: TLS/1.0\r\n\r\n', 'legacy-default; legacy'],
      ['POST /new/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 2\r\n\r\nhi', 'to-new; new-svc'],
      ['GET /new/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: h2c, websocket\r\n\r\n', 'to-new; new-svc'],
    ] as const) {
      const c = client(Number(new URL(scene.gw.url).port));
      c.write(request);
      const a = await c.answer();
      expect(a.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(a.head).toContain(`\r\nx-ficus-route: ${route}\r\n`);
      c.socket.destroy();
    }
  });

  it('takes the protocol name in any case, and keeps the other Connection options', async () => {
    const c = client(Number(new URL(scene.gw.url).port));
    c.write(`GET /x HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Upgrade, HTTP2-Settings\r\nUpgrade: H2C\r\nHTTP2-Settings: AA\r\n\r\n`);
    expect((await c.answer()).head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    c.socket.destroy();
  });
});
