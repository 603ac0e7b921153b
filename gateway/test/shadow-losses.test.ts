/**
 * A shadow copy lost on the gateway's side is not the new service's fault: it counts as skipped,
 * never as a mismatch, which would hold the flip gate shut (or skew parity) on evidence the
 * service never gave. A copy the service itself fails (refused, 5xx, timeout) still counts.
 *
 * - a shadowed write whose copy goes out after a rule change replaced the target's pool: undici
 *   refused it on the closed pool (UND_ERR_CLOSED), and that was a mismatch;
 * - a shadowed write legacy answers before its body is all read (an early 413): the rest of the
 *   body was drained unseen, and the copy went out cut short, as if whole, and was compared (a
 *   mismatch); on a connection closed after the answer it was neither compared nor skipped, and
 *   held one of the rule's concurrency slots for good.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';
import { settled } from './support/shadow-scene.js';

let legacy: Server;
let svc: Server;
let gw: GatewayUnderTest;
/** bodies the new service received, by path */
const svcGot: { path: string; body: string }[] = [];

const ANSWER = JSON.stringify({ ok: true });

function answer(res: ServerResponse, status: number): void {
  res.sendDate = false;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(ANSWER.length) }).end(ANSWER);
}

/** Reads the whole body, then answers 201; under /big legacy refuses at once (413) without waiting for it. */
function handler(side: 'legacy' | 'svc') {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (side === 'legacy' && (req.url ?? '').startsWith('/big')) {
      req.resume();
      return answer(res, 413);
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (side === 'svc') svcGot.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString() });
      answer(res, req.method === 'POST' ? 201 : 200);
    });
  };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const upstreamsYaml = (legacyUrl: string, svcUrl: string, connections: number) =>
  'upstreams:\n' +
  `  legacy: { url: "${legacyUrl}", healthCheck: { enabled: false } }\n` +
  `  svc: { url: "${svcUrl}", pool: { connections: ${connections} }, healthCheck: { enabled: false } }\n` +
  '  gone: { url: "http://127.0.0.1:9", healthCheck: { enabled: false } }\n';

let legacyUrl = '';
let svcUrl = '';

beforeAll(async () => {
  legacy = createServer(handler('legacy'));
  svc = createServer(handler('svc'));
  legacyUrl = await listen(legacy);
  svcUrl = await listen(svc);
  gw = await startGatewayUnderTest(
    {
      'u.yaml': upstreamsYaml(legacyUrl, svcUrl, 8),
      'r.yaml':
        'http:\n' +
        '  - { id: orders, match: { methods: [POST], path: /orders/** }, mode: shadow, target: svc, shadow: { writes: true } }\n' +
        '  - { id: big, match: { methods: [POST], path: /big/** }, mode: shadow, target: svc, shadow: { writes: true } }\n' +
        '  - { id: refused, match: { path: /refused/** }, mode: shadow, target: gone }\n' +
        '  - { id: all, match: { path: /** }, mode: legacy }\n',
    },
    // bodies over 1 KiB stream to legacy as they come, so that legacy can answer before the end
    { FICUS_REQUEST_BUFFER_BYTES: '1024' },
  );
});
afterAll(async () => {
  await gw?.close();
  await Promise.all([legacy, svc].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

const counts = (rule: string) => ({
  compared: Object.fromEntries(gw.gateway.recorder.compared.get(rule) ?? []),
  skipped: Object.fromEntries(gw.gateway.recorder.skips.get(rule) ?? []),
});

/**
 * A POST whose body goes in two parts: `between` runs after the first (given the answer's bytes
 * so far) and says when to send the second. Resolves with all the gateway sent once the
 * connection is closed: by the gateway after its answer (`Connection: close`), or with
 * `keepAlive` by the client once it has sent the second part.
 */
function twoPartPost(path: string, first: string, second: string, between: (answerSoFar: () => string) => Promise<void>, keepAlive = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(gw.url).port), '127.0.0.1');
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(got));
    socket.on('connect', () => {
      const length = first.length + second.length;
      socket.write(`POST ${path} HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n${keepAlive ? '' : 'Connection: close\r\n'}\r\n${first}`);
      void between(() => got).then(() => (keepAlive ? socket.end(second) : socket.write(second)), reject);
    });
  });
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('a copy lost on the gateway side counts as skipped, never as a mismatch', () => {
  it("a shadowed write's copy sent after a rule change replaced the target's pool", async () => {
    const before = gw.gateway.runtime.upstreams.get('svc');
    const got = await twoPartPost('/orders/1', '{"qty":', '12}', async () => {
      // the body is half in: the copy goes once it is whole, on the pool the request began with
      gw.writeRules('u.yaml', upstreamsYaml(legacyUrl, svcUrl, 4));
      await until('the new pool', () => gw.gateway.runtime.upstreams.get('svc') !== before);
    });
    expect(got).toMatch(/^HTTP\/1\.1 201/);
    await settled(gw.gateway, 'orders', 1);
    expect(counts('orders')).toEqual({ compared: {}, skipped: { 'pool-closed': 1 } });
    // the next one goes on the new pool and is compared
    const next = await twoPartPost('/orders/2', '{"qty":', '13}', () => Promise.resolve());
    expect(next).toMatch(/^HTTP\/1\.1 201/);
    await settled(gw.gateway, 'orders', 2);
    expect(counts('orders')).toEqual({ compared: { match: 1 }, skipped: { 'pool-closed': 1 } });
  });

  const early413 = (soFar: () => string) => until('the early 413', () => /\r\n\r\n\{"ok":true\}$/.test(soFar()));

  it('a write legacy refuses before its body is in: the rest is drained, and no copy goes cut short', async () => {
    const got = await twoPartPost('/big/1', 'x'.repeat(1500), 'y'.repeat(500), early413, true);
    expect(got).toMatch(/^HTTP\/1\.1 413/);
    await settled(gw.gateway, 'big', 1);
    expect(counts('big')).toEqual({ compared: {}, skipped: { 'answered-before-body': 1 } });
    // before: the service got the first 1,500 bytes as a whole body, and its answer was a mismatch
    expect(svcGot.filter((r) => r.path === '/big/1')).toEqual([]);
  });

  it('the same on a connection closed after the answer: counted, and the concurrency slot given back', async () => {
    const got = await twoPartPost('/big/2', 'x'.repeat(1500), 'y'.repeat(500), early413);
    expect(got).toMatch(/^HTTP\/1\.1 413/);
    // before: neither compared nor skipped, and one of the rule's slots taken for good
    await settled(gw.gateway, 'big', 2);
    expect(counts('big')).toEqual({ compared: {}, skipped: { 'answered-before-body': 2 } });
    expect(gw.gateway.runtime.shadows.inflightOf('big')).toBe(0);
  });

  it('a copy the new service fails itself (connection refused) still counts as a mismatch', async () => {
    const r = await fetch(`${gw.url}/refused/1`);
    expect(r.status).toBe(200);
    await settled(gw.gateway, 'refused', 1);
    expect(counts('refused')).toEqual({ compared: { mismatch: 1 }, skipped: {} });
  });
});
