/**
 * An open WebSocket through the gateway at shutdown. Node's HTTP server stops counting a
 * connection once it is upgraded, so closeAllConnections() left it open and server.close()
 * waited for it: the gateway was still running 40 s after SIGTERM. Now, at the end of the
 * drain, the client gets a Close 1001 "going away" (or, caught in the middle of a frame, its
 * connection is cut), and the process exits within its bound.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { closeFrame, FrameBoundary } from '../src/ops/upgraded-sockets.js';
import { startGatewayProcess } from './support/gateway-process.js';
import { quietUpstreamsYaml, startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** an echo WebSocket upstream that records the close codes it is given */
async function echoUpstream(): Promise<{ url: string; closes: number[] }> {
  const server = createServer();
  const wss = new WebSocketServer({ server });
  const closes: number[] = [];
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('close', (code) => closes.push(code));
  });
  cleanup.push(() => wss.close());
  return { url: await listen(server), closes };
}

/** an upstream that accepts the handshake and then sends the start of a frame it never finishes */
async function halfFrameUpstream(): Promise<string> {
  const server = createServer();
  const sockets = new Set<Socket>();
  server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
    sockets.add(socket);
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    // a text frame of 100 bytes, of which 10 are sent
    socket.write(Buffer.concat([Buffer.from([0x81, 100]), Buffer.alloc(10, 0x61)]));
  });
  const url = await listen(server);
  // upgraded, they are not the server's to close (the very defect under test, on this side)
  cleanup.push(() => sockets.forEach((s) => s.destroy()));
  return url;
}

const rulesTo = (upstream: string) => ({ 'u.yaml': quietUpstreamsYaml({ legacy: upstream }), 'r.yaml': 'http:\n  - id: legacy-default\n    match: { path: /** }\n    mode: legacy\n' });

const gatewayTo = (upstream: string, drainMs: number): Promise<GatewayUnderTest> => startGatewayUnderTest(rulesTo(upstream), { FICUS_SHUTDOWN_TIMEOUT_MS: String(drainMs) });

async function openSocket(url: string): Promise<{ ws: WebSocket; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(url.replace('http', 'ws') + '/ws/board');
  ws.on('error', () => undefined);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, closed };
}

/** close() within `ms`, else a failure (the old gateway never finished) */
async function closesWithin(gw: GatewayUnderTest, ms: number): Promise<number> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`gateway.close() still running after ${ms} ms`)), ms)));
  try {
    await Promise.race([gw.close(), late]);
  } finally {
    clearTimeout(timer);
  }
  return Date.now() - started;
}

describe('shutdown with WebSockets open', () => {
  it('after the drain, the client gets a Close 1001 "going away" (passed on to the upstream) and close() ends', async () => {
    const upstream = await echoUpstream();
    const gw = await gatewayTo(upstream.url, 400);
    const { ws, closed } = await openSocket(gw.url);
    const echoed = new Promise((resolve) => ws.once('message', (d) => resolve(d.toString())));
    ws.send('bed 12 free');
    expect(await echoed).toBe('bed 12 free');

    const ms = await closesWithin(gw, 5_000);
    expect(ms).toBeGreaterThanOrEqual(350);
    expect(await closed).toEqual({ code: 1001, reason: 'gateway shutting down' });
    // the client's answering Close reached the upstream through the passthrough
    for (let i = 0; i < 50 && upstream.closes.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(upstream.closes).toEqual([1001]);
  });

  it('a connection caught in the middle of a frame is cut (no Close inside a frame)', async () => {
    const gw = await gatewayTo(await halfFrameUpstream(), 300);
    const { closed } = await openSocket(gw.url);
    await closesWithin(gw, 5_000);
    expect((await closed).code).toBe(1006);
  });

  it('the gateway process exits 0 soon after SIGTERM with a WebSocket open', async () => {
    const upstream = await echoUpstream();
    const dir = mkdtempSync(path.join(tmpdir(), 'ficus-rules-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    for (const [f, yaml] of Object.entries(rulesTo(upstream.url))) writeFileSync(path.join(dir, f), yaml);
    const proc = await startGatewayProcess({ FICUS_RULES_DIR: dir, FICUS_RULES_SOURCE: 'files', FICUS_SHUTDOWN_TIMEOUT_MS: '500' });
    cleanup.push(() => void proc.child.kill('SIGKILL'));
    const { closed } = await openSocket(proc.url);
    const started = Date.now();
    const exited = proc.stop();
    const late = new Promise<string>((resolve) => setTimeout(() => resolve('still running'), 8_000));
    expect(await Promise.race([exited, late])).toBe(0);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect((await closed).code).toBe(1001);
  });
});

describe('the frame reader', () => {
  it('knows where frames start across any split of the bytes written to the client', () => {
    const head = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n');
    const frame = (len: number) => {
      const h = len < 126 ? Buffer.from([0x82, len]) : len < 65536 ? Buffer.from([0x82, 126, len >> 8, len & 0xff]) : Buffer.concat([Buffer.from([0x82, 127]), Buffer.from([0, 0, 0, 0, 0, len >> 16, (len >> 8) & 0xff, len & 0xff])]);
      return Buffer.concat([h, Buffer.alloc(len, 1)]);
    };
    const stream = Buffer.concat([head, frame(5), frame(300), frame(70_000), closeFrame(1000, 'bye')]);
    const ends = new Set<number>();
    let at = head.length;
    for (const f of [frame(5), frame(300), frame(70_000), closeFrame(1000, 'bye')]) ends.add((at += f.length));
    const wrong: string[] = [];
    for (const step of [1, 3, 7, 1000]) {
      const r = new FrameBoundary();
      for (let i = 0; i < stream.length; i += step) {
        const chunk = stream.subarray(i, Math.min(i + step, stream.length));
        r.feed(chunk);
        const end = i + chunk.length;
        const expected = ends.has(end) ? true : end > head.length && end < stream.length ? false : undefined;
        if (expected !== undefined && r.atBoundary !== expected) wrong.push(`step ${step} at ${end}: ${r.atBoundary}`);
      }
    }
    expect(wrong).toEqual([]);
    const refused = new FrameBoundary();
    refused.feed(Buffer.from('HTTP/1.1 404 Not Found\r\n\r\n'));
    expect(refused.atBoundary).toBe(false);
  });
});
