/**
 * An answer given before the request body was read (a 413 from a body limit, a 404 for an
 * upload to no route) reaches the client, and the connection closes without a reset: the rest
 * of the body is read and dropped first (lingering close). Before, fastify's 413 came with
 * `Connection: close`, Node closed the socket on the unread upload, and the client, still
 * writing, met a reset: curl printed 100, the gateway answered 502 instead of the 413.
 * legacy-his and every extracted service build their apps with legacyApiServer.
 */
import { connect, type AddressInfo } from 'node:net';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@ficus/contracts';
import { legacyApiServer, registerLegacyErrors } from '../src/contract/index.js';

let app: FastifyInstance;
let port: number;

beforeAll(async () => {
  app = legacyApiServer(createLogger('lingering-test', { level: 'silent' }) as FastifyBaseLogger);
  registerLegacyErrors(app);
  app.put('/limited', { bodyLimit: 64 * 1024 }, async () => ({ ok: true }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
});
afterAll(() => app?.close());

interface Outcome {
  answer: string;
  /** the first socket error, if any: EPIPE or ECONNRESET when the server reset the connection */
  error: string | undefined;
  /** whether the server closed the connection (within 10 s) */
  closed: boolean;
}

/** Sends `head` and then `bytes` of body as fast as the socket takes them; collects what comes back until the end. */
function upload(head: string, bytes: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let error: string | undefined;
    let closed = false;
    const timer = setTimeout(() => socket.destroy(), 10_000);
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('end', () => (closed = true));
    socket.on('error', (e: Error & { code?: string }) => {
      error ??= e.code ?? e.message;
      closed = true;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answer, error, closed });
    });
    socket.write(head);
    const piece = Buffer.alloc(64 * 1024, '{');
    let sent = 0;
    const pump = () => {
      while (sent < bytes && !socket.destroyed) {
        const n = Math.min(piece.length, bytes - sent);
        sent += n;
        if (!socket.write(piece.subarray(0, n))) return void socket.once('drain', pump);
      }
      // all written: the client closes its side, as curl does after an upload
      if (!socket.destroyed) socket.end();
    };
    pump();
  });
}

describe('an answer before the body was read', () => {
  it('a 413 from a body limit reaches the client, and the connection ends without a reset (5 MB, 8 times)', { timeout: 60_000 }, async () => {
    const size = 5_000_000;
    for (let i = 0; i < 8; i++) {
      const got = await upload(`PUT /limited HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\n\r\n`, size);
      expect(got.answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(got.answer).toMatch(/\r\nconnection: close\r\n/i);
      expect(got.error, `upload ${i}`).toBeUndefined();
      expect(got.closed).toBe(true);
    }
  });

  it('an upload to no route is answered 404 and the connection closed after the rest is read, not kept by reading any size', { timeout: 30_000 }, async () => {
    const size = 5_000_000;
    const got = await upload(`POST /nowhere HTTP/1.1\r\nHost: h\r\nContent-Type: application/octet-stream\r\nContent-Length: ${size}\r\n\r\n`, size);
    expect(got.answer).toMatch(/^HTTP\/1\.1 404 /);
    expect(got.answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(got.error).toBeUndefined();
    expect(got.closed).toBe(true);
  });

  it('a small rest is read by Node and the connection kept for the next request', async () => {
    const body = '{'.repeat(100 * 1024);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let got = '';
      socket.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        if (/HTTP\/1\.1 404[\s\S]*HTTP\/1\.1 404[\s\S]*\}$/.test(got)) {
          socket.destroy();
          resolve(got);
        }
      });
      socket.on('error', reject);
      socket.write(`POST /nowhere HTTP/1.1\r\nHost: h\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      socket.write('GET /nowhere HTTP/1.1\r\nHost: h\r\n\r\n');
    });
    expect(answer.match(/HTTP\/1\.1 404 /g)).toHaveLength(2);
    expect(answer).not.toMatch(/connection: close/i);
  });
});
