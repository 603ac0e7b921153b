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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../../test-support/until.js';
import { RequestBody } from '../src/proxy/unread-body.js';
import { startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';
import { HeldAnswers } from './support/held-answers.js';
import { startTestUpstream, type TestUpstream } from './support/test-upstream.js';

let legacy: TestUpstream;
let gw: GatewayUnderTest;
/** `/slow` answers wait for the test: both connections stay busy while a client leaves the queue */
const held = new HeldAnswers();

beforeAll(async () => {
  legacy = await startTestUpstream('legacy', (req, res, body) => {
    if (req.url?.startsWith('/slow')) return held.hold(() => res.end('slow'));
    res.end(`legacy ${body.length}`);
  });
  // queueMs past any test: a request leaves the queue only when its client does or a slot frees
  const upstreams = `
upstreams:
  legacy:
    url: ${legacy.url}
    pool: { connections: 2 }
    timeouts: { connectMs: 500, responseHeadersMs: 60000, bodyIdleMs: 60000, queueMs: 60000 }
    healthCheck: { enabled: false }
`;
  gw = await startGatewayUnderTest({ 'u.yaml': upstreams, 'r.yaml': 'http:\n  - id: legacy-default\n    match: { path: /** }\n    mode: legacy\n' });
});
afterAll(async () => {
  held.release();
  await gw?.close();
  await legacy?.close();
});

async function metricsLines(): Promise<string[]> {
  return (await (await fetch(gw.url + '/metrics')).text()).split('\n');
}

async function count499(): Promise<number> {
  const lines = (await metricsLines()).filter((l) => l.startsWith('ficus_http_requests_total{') && l.includes('rule="legacy-default"') && l.includes('code="499"'));
  return lines.reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

async function inflight(): Promise<number> {
  return Number((await metricsLines()).find((l) => l.startsWith('ficus_http_inflight_requests '))?.split(' ').pop());
}

const gate = () => gw.gateway.runtime.upstreams.get('legacy')!.gate;

/**
 * Starts an upload of `declared` bytes, sends `sent` of them, then hangs up: once the gateway has
 * the request and at least 100 kB of what was sent (more than it reads ahead) left the client.
 * Answers how many requests waited in the gate for a connection when it hung up.
 */
async function abandonedUpload(path: string, declared: number, sent: number): Promise<number> {
  const base = await inflight();
  const socket = connect(Number(new URL(gw.url).port), '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(`POST ${path} HTTP/1.1\r\nHost: h\r\nContent-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`);
  socket.write(Buffer.alloc(sent, 'a'));
  await until(async () => (await inflight()) > base, `the upload ${path} at the gateway`, 15_000);
  await until(() => sent - socket.writableLength >= Math.min(sent, 100_000), `the upload ${path} sent`, 15_000);
  const waiting = gate().waiting;
  socket.destroy();
  return waiting;
}

describe('a client that leaves while its upload waits for a connection', () => {
  for (const [what, declared, sent] of [
    ['a small body', 10, 3],
    ['a streamed body', 1_000_000, 30_000],
  ] as const) {
    it(`is dropped and counted 499, the gateway lives on, and the upload never reaches the upstream (${what})`, async () => {
      const before = await count499();
      // both pooled connections busy until the test releases them
      const slow = [fetch(gw.url + '/slow/1'), fetch(gw.url + '/slow/2')];
      await held.arrived(2, 'both slow requests at legacy');
      const path = `/abandoned-${declared}`;
      // a streamed body waits in the gate when its client leaves; a small one is still being read first
      expect(await abandonedUpload(path, declared, sent)).toBe(declared > 65_536 ? 1 : 0);
      await until(async () => (await count499()) === before + 1, 'the 499 counted', 15_000);
      // it left the queue with its client: nothing is left there to be sent later
      expect(gate().waiting).toBe(0);
      held.release();
      const answers = await Promise.all(slow);
      expect(answers.map((r) => r.status)).toEqual([200, 200]);
      // the connections are free again, and serve the next request
      const after = await fetch(gw.url + '/still-here');
      expect(await after.text()).toBe('legacy 0');
      expect(legacy.received.some((r) => r.url === path)).toBe(false);
      expect(await count499()).toBe(before + 1);
    });
  }
});

describe('a client that leaves after sending more than the gateway reads ahead while waiting', () => {
  it('is not seen leaving until its body is read: its request is cut at once when it gets a connection, never sent whole', async () => {
    const before = await count499();
    const slow = [fetch(gw.url + '/slow/3'), fetch(gw.url + '/slow/4')];
    await held.arrived(2, 'both slow requests at legacy');
    const path = '/abandoned-large';
    const since = legacy.received.length;
    expect(await abandonedUpload(path, 1_000_000, 300_000)).toBe(1);
    held.release();
    await Promise.all(slow);
    await until(async () => (await count499()) === before + 1, 'the 499 counted', 15_000);
    const reached = legacy.received.slice(since).find((r) => r.url === path);
    if (reached) {
      await until(() => reached.aborted, 'the cut request ended at legacy', 15_000);
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
