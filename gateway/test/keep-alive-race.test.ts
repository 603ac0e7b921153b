/**
 * The keep-alive race (upstreams/reused-connections.ts, proxy/resend.ts): an upstream closes an
 * idle keep-alive connection just as the gateway sends the next request on it. The upstream here
 * is raw bytes: it answers the first request on each connection with keep-alive, and a path
 * marked `when-reused` is dropped (FIN or RST, no byte of answer) when it is not the first on its
 * connection, which is that race frozen. Before, every such request got 502
 * `upstream-connection-lost` and a strike against the upstream's circuit.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';
import { header, rawRequest } from './support/raw-http.js';
import { settled } from './support/shadow-scene.js';

interface Seen {
  connection: number;
  method: string;
  path: string;
}

let upstream: Server;
let gw: GatewayUnderTest;
const seen: Seen[] = [];
let connections = 0;

/** What the upstream does with a request, by its path and whether its connection answered before. */
function act(socket: Socket, method: string, path: string, reused: boolean, body: number): boolean {
  if (path.includes('lost-always') || (reused && path.includes('lost-when-reused/fin'))) {
    socket.end();
    return false;
  }
  if (reused && path.includes('lost-when-reused/rst')) {
    socket.resetAndDestroy();
    return false;
  }
  if (reused && path.includes('head-then-cut-when-reused')) {
    socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial');
    return false;
  }
  if (reused && path.includes('status-line-then-cut-when-reused')) {
    socket.end('HTTP/1.1 2');
    return false;
  }
  const answer = `${method} ${path} ${body}`;
  socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${answer.length}\r\n\r\n${method === 'HEAD' ? '' : answer}`);
  return true;
}

function serve(socket: Socket): void {
  const connection = ++connections;
  let answered = 0;
  let got = Buffer.alloc(0);
  let open = true;
  socket.on('error', () => undefined);
  socket.on('data', (d: Buffer) => {
    got = Buffer.concat([got, d]);
    while (open) {
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = got.subarray(0, end).toString('latin1');
      const [method, path] = head.split(' ') as [string, string];
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
      const dropping = answered > 0 && path.includes('when-reused');
      if (!dropping && !path.includes('lost-always') && got.length < end + 4 + length) return; // the whole body first
      seen.push({ connection, method, path });
      got = got.subarray(end + 4 + length);
      open = act(socket, method, path, answered > 0, length);
      answered++;
    }
  });
}

const seenFor = (path: string) => seen.filter((s) => s.path === path);

async function retries(upstreamName: string, reason: string): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`ficus_upstream_retries_total{upstream="${upstreamName}",reason="${reason}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

const breaker = (name: string) => gw.gateway.runtime.upstreams.get(name)!.breaker;
const pool = (name: string) => gw.gateway.runtime.upstreams.get(name)!.pool;

/** One request, after which the upstream's only pooled connection is idle and has answered. */
async function warm(prefix = ''): Promise<void> {
  const r = await rawRequest(gw.url, 'GET', `${prefix}/warm`);
  expect(r.status).toBe(200);
}

/** Everything the gateway sends back on a connection of its own, until it closes or resets it. */
function rawAnswer(request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(Number(new URL(gw.url).port), '127.0.0.1', () => socket.write(request));
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(got));
  });
}

beforeAll(async () => {
  upstream = createServer(serve);
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  // one pooled connection each, so the second request reuses the first's; one failure opens a circuit
  const declare = (name: string) =>
    `  ${name}: { url: "${url}", healthCheck: { enabled: false }, pool: { connections: 1 }, circuitBreaker: { failureThreshold: 1, openMs: 60000 } }\n`;
  gw = await startGatewayUnderTest({
    'u.yaml': 'upstreams:\n' + declare('legacy') + declare('cold') + declare('svc') + declare('mirror'),
    'r.yaml':
      'http:\n' +
      '  - { id: cold, match: { path: /cold/** }, mode: legacy, legacy: cold }\n' +
      '  - { id: svc-new, match: { path: /svc/** }, mode: new, target: svc }\n' +
      '  - { id: shadowed, match: { path: /shadowed/** }, mode: shadow, target: mirror }\n' +
      '  - { id: all, match: { path: /** }, mode: legacy }\n',
  });
});
afterAll(async () => {
  await gw?.close();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});
beforeEach(() => {
  for (const name of ['legacy', 'cold', 'svc', 'mirror']) breaker(name).forceClose('next test');
});

describe('an idempotent request on a reused connection the upstream drops without answering', () => {
  it('GET, connection closed (FIN): sent once more on a new connection, 200, no strike, counted', async () => {
    const before = await retries('legacy', 'reused-connection-closed');
    await warm();
    const r = await rawRequest(gw.url, 'GET', '/lost-when-reused/fin?q=1');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('GET /lost-when-reused/fin?q=1 0');
    expect(header(r, 'x-ficus-route')).toBe('all; legacy');
    const got = seenFor('/lost-when-reused/fin?q=1');
    expect(got).toHaveLength(2);
    expect(got[0]!.connection).not.toBe(got[1]!.connection);
    expect(breaker('legacy').current).toBe('closed');
    expect(await retries('legacy', 'reused-connection-closed')).toBe(before + 1);
  });

  it('GET, connection reset (RST): the same', async () => {
    const before = await retries('legacy', 'reused-connection-reset');
    await warm();
    const r = await rawRequest(gw.url, 'GET', '/lost-when-reused/rst');
    expect(r.status).toBe(200);
    expect(seenFor('/lost-when-reused/rst')).toHaveLength(2);
    expect(breaker('legacy').current).toBe('closed');
    expect(await retries('legacy', 'reused-connection-reset')).toBe(before + 1);
  });

  it.each(['HEAD', 'OPTIONS', 'DELETE', 'PUT'])('%s without a body: the same', async (method) => {
    await warm();
    const path = `/lost-when-reused/fin/${method}`;
    const r = await rawRequest(gw.url, method, path, method === 'PUT' ? { 'content-length': '0' } : {});
    expect(r.status).toBe(200);
    expect(seenFor(path)).toHaveLength(2);
    expect(breaker('legacy').current).toBe('closed');
  });

  it('PUT with a body read before it was sent: sent again whole', async () => {
    await warm();
    const body = Buffer.alloc(20_000, 0x62);
    const r = await rawRequest(gw.url, 'PUT', '/lost-when-reused/fin/small-put', { 'content-type': 'application/octet-stream', 'content-length': String(body.length) }, body);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('PUT /lost-when-reused/fin/small-put 20000');
    expect(seenFor('/lost-when-reused/fin/small-put')).toHaveLength(2);
  });

  it('a rule in mode new: the target answers the second attempt (no fallback to legacy, no strike)', async () => {
    await warm('/svc');
    const r = await rawRequest(gw.url, 'GET', '/svc/lost-when-reused/fin');
    expect(r.status).toBe(200);
    expect(header(r, 'x-ficus-route')).toBe('svc-new; svc');
    expect(seenFor('/svc/lost-when-reused/fin')).toHaveLength(2);
    expect(breaker('svc').current).toBe('closed');
  });

  it('sent again once at most: a second attempt lost too is 502 and a strike', async () => {
    await warm();
    const r = await rawRequest(gw.url, 'GET', '/lost-always/twice');
    expect(r.status).toBe(502);
    expect(r.body.toString()).toMatch(/upstream-connection-lost/);
    expect(seenFor('/lost-always/twice')).toHaveLength(2);
    expect(breaker('legacy').current).toBe('open');
  });
});

describe('never sent again', () => {
  it('POST and PATCH: 502 as before, the upstream saw them once', async () => {
    for (const method of ['POST', 'PATCH']) {
      const before = await retries('legacy', 'reused-connection-closed');
      await warm();
      const path = `/lost-when-reused/fin/${method}`;
      const r = await rawRequest(gw.url, method, path, { 'content-type': 'application/json', 'content-length': '2' }, '{}');
      expect(r.status).toBe(502);
      expect(r.body.toString()).toMatch(/upstream-connection-lost/);
      // it was written: the upstream may have acted on it, and the client is not told otherwise
      expect(r.body.toString()).not.toMatch(/not sent/);
      expect(seenFor(path)).toHaveLength(1);
      expect(await retries('legacy', 'reused-connection-closed')).toBe(before);
      expect(await retries('legacy', 'reused-connection-lost-unsent')).toBe(0);
    }
  });

  it('PUT whose body streams (over FICUS_REQUEST_BUFFER_BYTES): 502, the upstream saw it once', async () => {
    await warm();
    const body = Buffer.alloc(200_000, 0x63);
    const r = await rawRequest(gw.url, 'PUT', '/lost-when-reused/fin/big-put', { 'content-type': 'application/octet-stream', 'content-length': String(body.length) }, body);
    expect(r.status).toBe(502);
    expect(seenFor('/lost-when-reused/fin/big-put')).toHaveLength(1);
  });

  it('a fresh connection closed without an answer: 502 and a strike, as before', async () => {
    expect(pool('cold').stats.connected).toBe(0);
    const before = await retries('cold', 'reused-connection-closed');
    const r = await rawRequest(gw.url, 'GET', '/cold/lost-always');
    expect(r.status).toBe(502);
    expect(seenFor('/cold/lost-always')).toHaveLength(1);
    expect(breaker('cold').current).toBe('open');
    expect(await retries('cold', 'reused-connection-closed')).toBe(before);
  });

  it('an answer whose head was relayed, then cut: the client connection is cut, the upstream saw it once', async () => {
    await warm();
    const got = await rawAnswer('GET /head-then-cut-when-reused HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    expect(got).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(got).toMatch(/\r\n\r\npartial$/);
    expect(seenFor('/head-then-cut-when-reused')).toHaveLength(1);
  });

  it('an answer cut inside its status line (a byte of it came): 502, the upstream saw it once', async () => {
    await warm();
    const r = await rawRequest(gw.url, 'GET', '/status-line-then-cut-when-reused');
    expect(r.status).toBe(502);
    expect(seenFor('/status-line-then-cut-when-reused')).toHaveLength(1);
  });
});

describe('a shadow copy the keep-alive race lost', () => {
  it('is sent once more, so parity counts the answer the service gives, not a connection it never dropped on purpose', async () => {
    const compared = () => Object.fromEntries(gw.gateway.recorder.compared.get('shadowed') ?? []);
    // the first copy opens the target's only connection; the second goes out on it, reused, and is dropped
    expect((await rawRequest(gw.url, 'GET', '/shadowed/warm')).status).toBe(200);
    await settled(gw.gateway, 'shadowed', 1);
    const before = await retries('mirror', 'reused-connection-closed');
    expect((await rawRequest(gw.url, 'GET', '/shadowed/lost-when-reused/fin')).status).toBe(200);
    await settled(gw.gateway, 'shadowed', 2);
    expect(compared()).toEqual({ match: 2 });
    // the client's request to legacy and the copy to the target were each seen twice
    expect(seenFor('/shadowed/lost-when-reused/fin')).toHaveLength(4);
    expect(await retries('mirror', 'reused-connection-closed')).toBe(before);
  });
});
