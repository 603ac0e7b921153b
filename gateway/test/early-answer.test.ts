/**
 * An upstream that answers a large upload before reading it (413 right after the head, as
 * servers with a body limit do): the client gets that answer, every time, and its connection
 * either carries the next request or is closed cleanly after an answer that said so
 * (RFC 9112 §9.6), never left hanging with the rest of the body unread.
 */
import { connect, type Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { legacyDefaultOnly, startLegacyAndNew, type TwoUpstreams } from './support/gateway-harness.js';

let scene: TwoUpstreams;

beforeAll(async () => {
  scene = await startLegacyAndNew(legacyDefaultOnly);
});
afterAll(() => scene?.close());

/** 413 for the upload, before its body is read; `close` also drops the connection (with its unread body) */
function limitedUpstream(close: boolean) {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (req.url !== '/x') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '4' });
      return void res.end('next');
    }
    res.writeHead(413, { 'content-type': 'text/plain', 'content-length': '9', ...(close ? { connection: 'close' } : {}) });
    res.end('too large');
  };
}

interface Answer {
  head: string;
  body: string;
}

/** One client connection: reads answers framed by Content-Length; tells a clean end from a hang. */
function client(port: number) {
  const socket: Socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined); // writing the rest of a refused upload may fail: that is allowed
  let buffer = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  const poke = () => wake?.();
  socket.on('data', (d: Buffer) => {
    buffer = Buffer.concat([buffer, d]);
    poke();
  });
  socket.on('end', poke);
  socket.on('close', poke);
  const more = () => new Promise<void>((resolve) => (wake = resolve));
  const gone = () => socket.readableEnded || socket.destroyed;
  return {
    socket,
    gone,
    /** writes the body in pieces with back-pressure, as a client would, until done or cut */
    async upload(bytes: number): Promise<void> {
      const piece = Buffer.alloc(64 * 1024, 'u');
      for (let sent = 0; sent < bytes && !socket.destroyed && socket.writable; sent += piece.length) {
        const ok = socket.write(piece.subarray(0, Math.min(piece.length, bytes - sent)));
        if (!ok) await new Promise<void>((resolve) => (socket.once('drain', resolve), socket.once('close', resolve)));
      }
    },
    async answer(): Promise<Answer | 'closed'> {
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end >= 0) {
          const head = buffer.subarray(0, end).toString('latin1');
          const length = /\r\ncontent-length: *(\d+)/i.exec(head);
          if (!length) throw new Error(`an answer without Content-Length: ${head}`);
          const rest = buffer.subarray(end + 4);
          if (rest.length >= Number(length[1])) {
            buffer = rest.subarray(Number(length[1]));
            return { head, body: rest.subarray(0, Number(length[1])).toString() };
          }
        }
        if (gone()) {
          if (buffer.length > 0) throw new Error(`connection closed in the middle of an answer: ${buffer.toString('latin1')}`);
          return 'closed';
        }
        await more();
      }
    },
  };
}

/**
 * An upstream that closes with the body unread resets the connection, and the gateway is often
 * still writing the body when the reset comes. Its answer is in the socket all the same: it is
 * read and relayed (upstreams/reset-while-sending.ts); before, undici dropped the connection on
 * the failed write and the client got 502 two times in three.
 */
async function uploadThenNext(bodyBytes: number): Promise<void> {
  const c = client(Number(new URL(scene.gw.url).port));
  c.socket.write(`POST /x HTTP/1.1\r\nHost: h\r\nContent-Type: application/octet-stream\r\nContent-Length: ${bodyBytes}\r\n\r\n`);
  const uploaded = c.upload(bodyBytes).then(() => {
    if (c.socket.writable) c.socket.write('GET /y HTTP/1.1\r\nHost: h\r\n\r\n');
  });
  const first = await c.answer();
  const status = first === 'closed' ? 'closed' : (first.head.split('\r\n')[0] ?? '');
  expect(status).toBe('HTTP/1.1 413 Payload Too Large');
  if (first === 'closed') return;
  expect(first.body).toBe('too large');
  await uploaded;
  const second = await c.answer();
  if (second === 'closed') {
    // allowed only when the first answer said so
    expect(first.head).toMatch(/\r\nconnection: close(\r\n|$)/i);
  } else {
    expect(second.head.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(second.body).toBe('next');
  }
  c.socket.destroy();
}

describe('an upstream that answers before reading the upload', () => {
  for (const close of [false, true]) {
    for (const size of [1_000_000, 20_000_000]) {
      it(`relays its answer and leaves no hanging connection (${size} bytes, upstream ${close ? 'closes' : 'keeps its connection'})`, { timeout: 120_000 }, async () => {
        scene.legacy.behave(limitedUpstream(close), { beforeBody: true });
        for (let i = 0; i < 10; i++) await uploadThenNext(size);
        // the pool's connections that carried the refused uploads are not reused half-written
        const res = await fetch(`${scene.gw.url}/y`);
        expect(res.status).toBe(200);
        expect(await res.text()).toBe('next');
      });
    }
  }
});
