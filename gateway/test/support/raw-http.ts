/**
 * HTTP exchanges as bytes on the wire would show them: raw header names and order, status
 * text, and the body exactly as sent (no decoding, no normalisation of the path).
 */
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  statusText: string;
  rawHeaders: [string, string][];
  body: Buffer;
}

export function rawRequest(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer | string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(base, { method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const pairs: [string, string][] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) pairs.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', rawHeaders: pairs, body: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export const header = (r: RawResponse, name: string) => r.rawHeaders.find(([k]) => k.toLowerCase() === name)?.[1];

/** Writes `bytes` on a new connection to `base` and answers all the gateway sent until it closed it (latin1). */
export function rawExchange(base: string, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(base).port), '127.0.0.1', () => socket.write(bytes));
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('end', () => resolve(got));
    socket.on('error', reject);
  });
}

export interface RawRequestHead {
  method: string;
  path: string;
  /** the head as sent, request line to the last header line */
  head: string;
  /** its Content-Length (0 without one); the body has arrived whole when this is called */
  length: number;
}

/**
 * A keep-alive upstream written as bytes: each request read off `socket` (heads and
 * Content-Length bodies; no chunked ones) is handed to `onRequest` once its body is in.
 */
export function onRawRequests(socket: Socket, onRequest: (r: RawRequestHead) => void): void {
  let got = Buffer.alloc(0);
  socket.on('error', () => undefined);
  socket.on('data', (d: Buffer) => {
    got = Buffer.concat([got, d]);
    for (;;) {
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = got.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      if (got.length < end + 4 + length) return; // the whole body first
      got = got.subarray(end + 4 + length);
      const [method, path] = head.split(' ') as [string, string];
      onRequest({ method, path, head, length });
    }
  });
}
