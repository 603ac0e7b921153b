/**
 * Answers HTTP allows that undici 7 refused (upstreams/lenient-answers.ts): a `100 Continue` the
 * gateway never asked for (IIS and WCF send one to a POST), and a 304 or 204 carrying a
 * Content-Length (RFC 9110 §8.6 allows it on a 304). Before, the first got 502
 * `upstream-connection-lost` and the second a connection cut after the head; both counted
 * against the upstream's circuit, so a few ETag revalidations opened it for every client.
 * And lines ended by a bare LF (RFC 9112 §2.2 lets a recipient take them, as nginx does): 502.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';
import { onRawRequests, rawExchange } from './support/raw-http.js';

let upstream: Server;
let gw: GatewayUnderTest;

const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';

function answerFor(method: string, path: string): string {
  switch (path) {
    case '/unasked-continue':
      return `${CONTINUE}HTTP/1.1 201 Created\r\ncontent-length: 5\r\n\r\nsaved`;
    case '/several-interim':
      return `${CONTINUE}${CONTINUE}HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\ndone`;
    case '/not-modified':
      // the length of the representation a 200 would have sent (RFC 9110 §8.6), no body
      return 'HTTP/1.1 304 Not Modified\r\netag: "v7"\r\ncontent-length: 1234\r\ncache-control: max-age=60\r\n\r\n';
    case '/no-content':
      return 'HTTP/1.1 204 No Content\r\nx-saved: yes\r\ncontent-length: 0\r\n\r\n';
    case '/no-content-with-length':
      return 'HTTP/1.1 204 No Content\r\ncontent-length: 17\r\n\r\n';
    case '/bare-lf-length':
      return 'HTTP/1.1 200 OK\nx-old: yes\ncontent-length: 4\n\nbare';
    default:
      return `HTTP/1.1 200 OK\r\ncontent-length: ${method.length}\r\n\r\n${method}`;
  }
}

/** A keep-alive upstream written as bytes (Node's own server sends no unasked 100). */
function serve(socket: Socket): void {
  onRawRequests(socket, ({ method, path }) => socket.write(answerFor(method, path)));
}

beforeAll(async () => {
  upstream = createServer(serve);
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gw = await startGatewayUnderTest({
    // a circuit that two failures open: an answer taken for a failure shows at once
    'u.yaml':
      'upstreams:\n' +
      `  legacy: { url: "${url}", healthCheck: { enabled: false, path: /bare-lf-length } }\n` +
      `  svc: { url: "${url}", healthCheck: { enabled: false }, circuitBreaker: { failureThreshold: 2, openMs: 60000 } }\n`,
    'r.yaml': 'http:\n  - { id: svc-all, match: { path: /** }, mode: new, target: svc, fallback: false }\n',
  });
});
afterAll(async () => {
  await gw?.close();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
});

/** Requests on one client connection, the last closing it: everything the gateway sent back. */
const onOneConnection = (...requests: string[]) => rawExchange(gw.url, requests.join('') + 'GET /last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
const statuses = (got: string) => [...got.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

describe('an interim 100 Continue the gateway did not ask for', () => {
  it("is skipped and the upstream's answer relayed, on the same client connection", async () => {
    const post = 'POST /unasked-continue HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\nsave-me';
    const got = await onOneConnection(post, post, post);
    expect(statuses(got)).toEqual([201, 201, 201, 200]);
    expect(got.match(/\r\n\r\nsaved/g)).toHaveLength(3);
    expect(got).not.toMatch(/100 Continue|upstream-connection-lost/);
  });

  it('as are several interim answers in a row (100, 100, 103)', async () => {
    const got = await onOneConnection('GET /several-interim HTTP/1.1\r\nHost: h\r\n\r\n');
    expect(statuses(got)).toEqual([200, 200]);
    expect(got).toMatch(/\r\n\r\ndone/);
  });
});

describe('a bodiless answer with a Content-Length', () => {
  it("a 304 keeps its headers (the length included) and the client's connection", async () => {
    const revalidate = 'GET /not-modified HTTP/1.1\r\nHost: h\r\nIf-None-Match: "v7"\r\n\r\n';
    const got = await onOneConnection(revalidate, revalidate, revalidate);
    expect(statuses(got)).toEqual([304, 304, 304, 200]);
    const first = got.slice(0, got.indexOf('\r\n\r\n'));
    expect(first).toMatch(/\r\netag: "v7"\r\n/);
    expect(first).toMatch(/\r\ncontent-length: 1234\r\n/);
    expect(first).toMatch(/\r\ncache-control: max-age=60\r\n/);
  });

  it('a 204 with a length, and one with Content-Length: 0, are relayed', async () => {
    const got = await onOneConnection('DELETE /no-content-with-length HTTP/1.1\r\nHost: h\r\n\r\n', 'DELETE /no-content HTTP/1.1\r\nHost: h\r\n\r\n');
    expect(statuses(got)).toEqual([204, 204, 200]);
    expect(got).toMatch(/\r\nx-saved: yes\r\n/);
  });

  it("none of them counts against the upstream's circuit (two failures in a row would open it)", async () => {
    // one request a connection, closed after it: no success in between resets the count
    const alone = (head: string) => rawExchange(gw.url, `${head}\r\nHost: h\r\nConnection: close\r\n\r\n`);
    const got = [
      await alone('GET /not-modified HTTP/1.1'),
      await alone('POST /unasked-continue HTTP/1.1\r\nContent-Length: 0'),
      await alone('GET /several-interim HTTP/1.1'),
      await alone('GET /anything HTTP/1.1'),
    ];
    expect(got.map((g) => statuses(g)[0])).toEqual([304, 201, 200, 200]);
    expect(gw.gateway.runtime.upstreams.get('svc')!.breaker.current).toBe('closed');
  });
});

describe('an answer whose lines end in a bare LF', () => {
  it('is relayed, and the upstream connection serves the next', async () => {
    const get = 'GET /bare-lf-length HTTP/1.1\r\nHost: h\r\n\r\n';
    const got = await onOneConnection(get, get);
    expect(statuses(got)).toEqual([200, 200, 200]);
    expect(got.match(/\r\nx-old: yes\r\n[^]*?\r\n\r\nbare/g)).toHaveLength(2);
  });

  it('passes a health check, which reads answers as real traffic does', async () => {
    expect(await gw.gateway.runtime.upstreams.get('legacy')!.health.check()).toBe('healthy');
  });
});
