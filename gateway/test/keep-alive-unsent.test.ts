/**
 * The keep-alive race before the request was written (proxy/resend.ts): undici holds a request
 * for one turn of the event loop before writing it on a reused connection, and an upstream's
 * reset (RST) read in that turn fails it with ECONNRESET, never written. Frozen here: the
 * client's request and the upstream's reset of the idle pooled connection reach the gateway in
 * one poll, the request first. Before, a POST or PATCH got 502 `upstream-connection-lost` and the
 * upstream a strike for a request it never saw. The upstream is raw bytes and counts what
 * arrived: every body exactly once, or never and a 502 that says it was not sent.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';
import { onRawRequests, rawRequest } from './support/raw-http.js';

interface Arrival {
  connection: number;
  method: string;
  path: string;
  length: number;
}

const arrived: Arrival[] = [];
/** the connection each upstream's pool holds (one each), by the first segment of the path it last carried */
const pooled = new Map<string, Socket>();
let connections = 0;

function serve(socket: Socket): void {
  const connection = ++connections;
  onRawRequests(socket, ({ method, path, length }) => {
    arrived.push({ connection, method, path, length });
    pooled.set(path.split('/')[1]!, socket);
    const answer = `${method} ${path} ${length}`;
    socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${answer.length}\r\n\r\n${answer}`);
  });
}

async function listen(): Promise<{ server: Server; url: string }> {
  const server = createServer(serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let upstream: Server;
let gone: Server;
let gw: GatewayUnderTest;

const arrivedAt = (path: string) => arrived.filter((a) => a.path === path);
const breaker = (name: string) => gw.gateway.runtime.upstreams.get(name)!.breaker;

async function retries(upstreamName: string, reason: string): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`ficus_upstream_retries_total{upstream="${upstreamName}",reason="${reason}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Warms the pooled connection of `/<segment>`, then writes `head` and `body` to the gateway and,
 * in the same turn, ends the upstream's side of that connection (`rst`: a reset, else a FIN).
 * Everything the gateway answered, until it closed the connection.
 */
async function crossed(segment: string, head: string, body: Buffer | string, how: 'rst' | 'fin' = 'rst'): Promise<string> {
  expect((await rawRequest(gw.url, 'GET', `/${segment}/warm`)).status).toBe(200);
  const idle = pooled.get(segment)!;
  const client = connect(Number(new URL(gw.url).port), '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  // the gateway accepts the connection in a poll after the connect: from then on it reads it
  await new Promise((resolve) => setTimeout(resolve, 5));
  await turn();
  await turn();
  let got = '';
  client.on('data', (d: Buffer) => (got += d.toString('latin1')));
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  client.on('error', () => undefined);
  client.write(Buffer.concat([Buffer.from(`${head}connection: close\r\n\r\n`, 'latin1'), Buffer.from(body)]));
  if (how === 'rst') idle.resetAndDestroy();
  else idle.end();
  await closed;
  return got;
}

const post = (method: string, path: string, length: number) => `${method} ${path} HTTP/1.1\r\nhost: h\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n`;

beforeAll(async () => {
  const up = await listen();
  const away = await listen();
  upstream = up.server;
  gone = away.server;
  // one pooled connection each, so a request goes out on the warmed one; one failure opens a circuit
  const declare = (name: string, url: string) =>
    `  ${name}: { url: "${url}", healthCheck: { enabled: false }, pool: { connections: 1 }, circuitBreaker: { failureThreshold: 1, openMs: 60000 } }\n`;
  gw = await startGatewayUnderTest({
    'u.yaml': 'upstreams:\n' + declare('legacy', up.url) + declare('svc', up.url) + declare('gone', away.url),
    'r.yaml':
      'http:\n' +
      '  - { id: svc-new, match: { path: /svc/** }, mode: new, target: svc }\n' +
      '  - { id: gone, match: { path: /gone/** }, mode: legacy, legacy: gone }\n' +
      '  - { id: all, match: { path: /** }, mode: legacy }\n',
  });
});
afterAll(async () => {
  await gw?.close();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
  if (gone.listening) await new Promise<void>((resolve) => gone.close(() => resolve()));
});
beforeEach(() => {
  for (const name of ['legacy', 'svc', 'gone']) breaker(name).forceClose('next test');
});

describe('a reused connection reset before undici wrote the request on it', () => {
  it.each(['POST', 'PATCH'])('%s in mode legacy: sent on a new connection, arrived once, 200, no strike, counted', async (method) => {
    const before = await retries('legacy', 'reused-connection-lost-unsent');
    const path = `/unsent/${method}`;
    const answer = await crossed('unsent', post(method, path, 2), '{}');
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(answer.endsWith(`${method} ${path} 2`)).toBe(true);
    expect(arrivedAt(path)).toHaveLength(1);
    expect(breaker('legacy').current).toBe('closed');
    expect(await retries('legacy', 'reused-connection-lost-unsent')).toBe(before + 1);
  });

  it('POST in mode new: the target answers it (no strike, no fallback)', async () => {
    const path = '/svc/unsent/post';
    const answer = await crossed('svc', post('POST', path, 2), '{}');
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(answer).toMatch(/\r\nx-ficus-route: svc-new; svc\r\n/i);
    expect(arrivedAt(path)).toHaveLength(1);
    expect(breaker('svc').current).toBe('closed');
  });

  it('a POST whose body streams (over FICUS_REQUEST_BUFFER_BYTES): the stream undici never read goes whole', async () => {
    const path = '/streamed/post';
    const body = Buffer.alloc(200_000, 0x61);
    const answer = await crossed('streamed', post('POST', path, body.length), body);
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(arrivedAt(path)).toEqual([expect.objectContaining({ method: 'POST', length: 200_000 })]);
    expect(breaker('legacy').current).toBe('closed');
  });

  it('the new connection refused too: 502 that says the request was not sent, and it never arrived', async () => {
    const path = '/gone/unsent';
    expect((await rawRequest(gw.url, 'GET', '/gone/warm')).status).toBe(200);
    // no new connection from now on; the pooled one stays open until it is reset
    gone.close();
    const answer = await crossed('gone', post('POST', path, 2), '{}');
    expect(answer).toMatch(/^HTTP\/1\.1 502 /);
    expect(answer).toMatch(/upstream-unreachable/);
    expect(answer).toMatch(/the request was not sent: no byte of it reached the upstream/);
    expect(arrivedAt(path)).toHaveLength(0);
    // the second attempt's refusal is the upstream failing
    expect(breaker('gone').current).toBe('open');
  });

  it('a FIN instead: undici queues the request again itself (no resend of the gateway), arrived once', async () => {
    const before = await retries('legacy', 'reused-connection-lost-unsent');
    const path = '/fin/post';
    const answer = await crossed('fin', post('POST', path, 2), '{}', 'fin');
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(arrivedAt(path)).toHaveLength(1);
    expect(await retries('legacy', 'reused-connection-lost-unsent')).toBe(before);
  });
});
