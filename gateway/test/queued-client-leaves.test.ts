/**
 * A client that hangs up during an upload while its request waits for an upstream connection.
 * Before, the gateway process died: undici's Pool queues a request without building anything
 * that listens to its body, the body then failed ("client went away") with no 'error' listener,
 * and the whole gateway exited. Now the request is dropped, counted 499, and never sent upstream
 * later; the gateway serves on.
 */
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestBody } from '../src/proxy/unread-body.js';
import { startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';
import { startTestUpstream, type TestUpstream } from './support/test-upstream.js';

let legacy: TestUpstream;
let gw: GatewayUnderTest;

beforeAll(async () => {
  legacy = await startTestUpstream('legacy', (req, res, body) => {
    if (req.url?.startsWith('/slow')) return void setTimeout(() => res.end('slow'), 1_200);
    res.end(`legacy ${body.length}`);
  });
  const upstreams = `
upstreams:
  legacy:
    url: ${legacy.url}
    pool: { connections: 2 }
    timeouts: { connectMs: 500, responseHeadersMs: 5000, bodyIdleMs: 5000, queueMs: 5000 }
    healthCheck: { enabled: false }
`;
  gw = await startGatewayUnderTest({ 'u.yaml': upstreams, 'r.yaml': 'http:\n  - id: legacy-default\n    match: { path: /** }\n    mode: legacy\n' });
});
afterAll(async () => {
  await gw?.close();
  await legacy?.close();
});

async function count499(): Promise<number> {
  const text = await (await fetch(gw.url + '/metrics')).text();
  const lines = text.split('\n').filter((l) => l.startsWith('ficus_http_requests_total{') && l.includes('rule="legacy-default"') && l.includes('code="499"'));
  return lines.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

/** Starts an upload of `declared` bytes, sends `sent` of them, then hangs up. */
async function abandonedUpload(path: string, declared: number, sent: number): Promise<void> {
  const socket = connect(Number(new URL(gw.url).port), '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(`POST ${path} HTTP/1.1\r\nHost: h\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`);
  socket.write(Buffer.alloc(sent, 'a'));
  await sleep(150);
  socket.destroy();
}

describe('a client that leaves while its upload waits for a connection', () => {
  for (const [what, declared, sent] of [
    ['a small body', 10, 3],
    ['a streamed body', 1_000_000, 30_000],
  ] as const) {
    it(`is dropped and counted 499, the gateway lives on, and the upload never reaches the upstream (${what})`, async () => {
      const before = await count499();
      // both pooled connections busy
      const slow = [fetch(gw.url + '/slow/1'), fetch(gw.url + '/slow/2')];
      await sleep(200);
      const path = `/abandoned-${declared}`;
      await abandonedUpload(path, declared, sent);
      const answers = await Promise.all(slow);
      expect(answers.map((r) => r.status)).toEqual([200, 200]);
      // the connections are free again: a request whose client left would have been sent by now
      await sleep(300);
      expect(legacy.received.some((r) => r.url === path)).toBe(false);
      expect(await count499()).toBe(before + 1);
      const after = await fetch(gw.url + '/still-here');
      expect(await after.text()).toBe('legacy 0');
    });
  }
});

describe('a client that leaves after sending more than the gateway reads ahead while waiting', () => {
  it('is not seen leaving until its body is read: its request is cut at once when it gets a connection, never sent whole', async () => {
    const before = await count499();
    const slow = [fetch(gw.url + '/slow/3'), fetch(gw.url + '/slow/4')];
    await sleep(200);
    const path = '/abandoned-large';
    const since = legacy.received.length;
    await abandonedUpload(path, 1_000_000, 300_000);
    await Promise.all(slow);
    await sleep(300);
    const reached = legacy.received.slice(since).find((r) => r.url === path);
    if (reached) {
      expect(reached.aborted).toBe(true);
      expect(reached.bodyBytes).toBeLessThan(1_000_000);
    }
    expect(await count499()).toBe(before + 1);
  });
});

describe("the client's body as undici gets it", () => {
  it('fails without an unhandled error when the client leaves before undici listens to it', async () => {
    const req = Object.assign(new PassThrough(), { complete: false }) as unknown as IncomingMessage;
    const body = new RequestBody(req);
    const closed = new Promise((resolve) => body.once('close', resolve));
    req.emit('close');
    await closed;
    expect(body.destroyed).toBe(true);
  });
});
