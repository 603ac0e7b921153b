/**
 * An upstream's answer to a WebSocket handshake, whatever it is, is the gateway's answer like any
 * other: its own headers added, connection-specific ones removed, counted by rule, target and
 * status, access-logged. Before, http-proxy wrote a non-101 answer itself as Node had parsed it
 * (Connection and Keep-Alive as sent, no Via, x-request-id or x-ficus-route, a chunked body
 * unchunked under `Transfer-Encoding: chunked`), and neither it nor a 101 was counted or logged.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { Logger } from '@ficus/contracts';
import { quietUpstreamsYaml, startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';
import { rawExchange } from './support/raw-http.js';
import { startTestUpstream, type TestUpstream } from './support/test-upstream.js';

let rest: TestUpstream;
let sockets: Server;
let wss: WebSocketServer;
let gw: GatewayUnderTest;
const logged: Record<string, unknown>[] = [];

beforeAll(async () => {
  // a plain HTTP server: a handshake to it is an ordinary request (Node has no 'upgrade' listener there)
  rest = await startTestUpstream('rest', (req, res) => {
    if (req.url?.startsWith('/api/results')) {
      res.writeHead(200, { 'content-type': 'application/json', 'keep-alive': 'timeout=5', connection: 'keep-alive, x-hop', 'x-hop': 'secret', 'transfer-encoding': 'chunked' });
      res.write('{"resultId":');
      res.end('"r1"}');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain', 'content-length': '9' });
      res.end('not here!');
    }
  });
  sockets = createServer();
  wss = new WebSocketServer({ server: sockets, path: '/ws/echo' });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  await new Promise<void>((resolve) => sockets.listen(0, '127.0.0.1', resolve));
  const socketsUrl = `http://127.0.0.1:${(sockets.address() as AddressInfo).port}`;
  gw = await startGatewayUnderTest({
    'u.yaml': quietUpstreamsYaml({ legacy: rest.url, 'rest-new': rest.url, sockets: socketsUrl }),
    'r.yaml': [
      'http:',
      '  - id: ws-rule',
      '    match: { path: /ws/** }',
      '    mode: legacy',
      '    legacy: sockets',
      '  - id: census-7',
      '    match: { path: /reports/census.html, headers: { x-ward: { equals: "7" } } }',
      '    mode: retired',
      '    target: rest-new',
      '  - id: results-read',
      '    match: { path: /api/results }',
      '    mode: retired',
      '    target: rest-new',
      '  - id: legacy-default',
      '    match: { path: /** }',
      '    mode: legacy',
      '',
    ].join('\n'),
  });
  gw.gateway.runtime.accessLog = { info: (line: Record<string, unknown>) => void logged.push(line) } as unknown as Logger;
  gw.gateway.runtime.accessLogAll = true;
});
afterAll(async () => {
  await gw?.close();
  await rest?.close();
  for (const client of wss?.clients ?? []) client.terminate();
  await new Promise((resolve) => {
    sockets?.close(resolve);
    sockets?.closeAllConnections();
  });
});

const handshake = (path: string, extra = '') =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

interface Parsed {
  status: number;
  headers: [string, string][];
  body: string;
}

function parse(got: string): Parsed {
  const end = got.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = got.slice(0, end).split('\r\n');
  return {
    status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine!)?.[1]),
    headers: lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
    body: got.slice(end + 4),
  };
}

const valuesOf = (p: Parsed, name: string) => p.headers.filter(([k]) => k === name).map(([, v]) => v);

async function counted(rule: string, target: string, code: number): Promise<number> {
  const text = await (await fetch(gw.url + '/metrics')).text();
  const line = text.split('\n').find((l) => l.startsWith(`ficus_http_requests_total{rule="${rule}",target="${target}",fallback="false",code="${code}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('answers to WebSocket handshakes', () => {
  it('a REST answer to a handshake carries the gateway headers, loses the hop-by-hop ones, and is counted and logged', async () => {
    const before = await counted('results-read', 'rest-new', 200);
    const since = logged.length;
    const got = parse(await rawExchange(gw.url, handshake('/api/results?mrn=100001', 'X-Request-Id: 5f0c6a52-3b7e-4d8a-9c1f-2e4b6d8a0c13\r\n')));
    expect(got.status).toBe(200);
    expect(valuesOf(got, 'x-ficus-route')).toEqual(['results-read; rest-new']);
    expect(valuesOf(got, 'via')).toEqual(['1.1 ficus']);
    expect(valuesOf(got, 'x-request-id')).toEqual(['5f0c6a52-3b7e-4d8a-9c1f-2e4b6d8a0c13']);
    // the upstream's Connection, Keep-Alive, the header its Connection names and its chunking are its own
    expect(valuesOf(got, 'connection')).toEqual(['close']);
    for (const gone of ['keep-alive', 'x-hop', 'transfer-encoding']) expect(valuesOf(got, gone)).toEqual([]);
    // the body, unchunked by Node, is delimited by the end of the connection
    expect(got.body).toBe('{"resultId":"r1"}');
    expect(await counted('results-read', 'rest-new', 200)).toBe(before + 1);
    const line = logged.slice(since).find((l) => l.rule === 'results-read');
    expect(line).toMatchObject({ reqId: '5f0c6a52-3b7e-4d8a-9c1f-2e4b6d8a0c13', method: 'GET', target: 'rest-new', status: 200, fallback: false });
    expect(JSON.stringify(logged.slice(since))).not.toContain('100001');
  });

  it('a refusal with a body of known length keeps its length; an upstream refusing the handshake (400) is counted and logged', async () => {
    const got = parse(await rawExchange(gw.url, handshake('/nothing/here')));
    expect(got.status).toBe(404);
    expect(valuesOf(got, 'content-length')).toEqual(['9']);
    expect(got.body).toBe('not here!');
    expect(valuesOf(got, 'x-ficus-route')).toEqual(['legacy-default; legacy']);

    const before = await counted('ws-rule', 'sockets', 400);
    const since = logged.length;
    // the ws library refuses a version it does not speak with 400
    const refused = parse(await rawExchange(gw.url, handshake('/ws/echo').replace('Version: 13', 'Version: 99')));
    expect(refused.status).toBe(400);
    expect(valuesOf(refused, 'x-ficus-route')).toEqual(['ws-rule; sockets']);
    expect(valuesOf(refused, 'x-request-id')).toHaveLength(1);
    expect(await counted('ws-rule', 'sockets', 400)).toBe(before + 1);
    expect(logged.slice(since)).toMatchObject([{ rule: 'ws-rule', target: 'sockets', status: 400 }]);
  });

  it('a 101 is counted and logged too, and carries the request id', async () => {
    const before = await counted('ws-rule', 'sockets', 101);
    const since = logged.length;
    const ws = new WebSocket(gw.url.replace('http', 'ws') + '/ws/echo');
    const handshakeHeaders = new Promise<Record<string, string | string[] | undefined>>((resolve) => ws.once('upgrade', (res) => resolve(res.headers)));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const headers = await handshakeHeaders;
    const echoed = new Promise<string>((resolve) => ws.once('message', (d) => resolve(d.toString())));
    ws.send('bed 4');
    expect(await echoed).toBe('bed 4');
    ws.close();
    expect(headers['x-ficus-route']).toBe('ws-rule; sockets');
    expect(headers['x-request-id']).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
    expect(await counted('ws-rule', 'sockets', 101)).toBe(before + 1);
    expect(logged.slice(since)).toMatchObject([{ rule: 'ws-rule', target: 'sockets', status: 101, reqId: headers['x-request-id'] }]);
  });

  it('an upstream that cannot be reached is a 502 problem, counted under the rule', async () => {
    const port = (sockets.address() as AddressInfo).port;
    for (const client of wss.clients) client.terminate();
    await new Promise((resolve) => {
      sockets.close(resolve);
      sockets.closeAllConnections();
    });
    try {
      const before = await counted('ws-rule', 'sockets', 502);
      const got = parse(await rawExchange(gw.url, handshake('/ws/echo')));
      expect(got.status).toBe(502);
      expect(JSON.parse(got.body)).toMatchObject({ type: expect.stringContaining('upstream-unreachable') });
      expect(await counted('ws-rule', 'sockets', 502)).toBe(before + 1);
    } finally {
      await new Promise<void>((resolve) => sockets.listen(port, '127.0.0.1', resolve));
    }
  });

  it('reads a header a rule tests over its copies: identical ones are one value, disagreeing ones are refused 400', async () => {
    const twice = parse(await rawExchange(gw.url, handshake('/reports/census.html', 'X-Ward: 7\r\nX-Ward: 7\r\n')));
    expect(valuesOf(twice, 'x-ficus-route')).toEqual(['census-7; rest-new']);
    const before = await counted('-', '-', 400);
    const since = logged.length;
    const got = parse(await rawExchange(gw.url, handshake('/reports/census.html', 'X-Ward: 7\r\nX-Ward: 8\r\n')));
    expect(got.status).toBe(400);
    expect(JSON.parse(got.body)).toMatchObject({ type: expect.stringContaining('ambiguous-request'), detail: expect.stringContaining('"x-ward"') });
    expect(await counted('-', '-', 400)).toBe(before + 1);
    expect(logged.slice(since)).toMatchObject([{ rule: '-', status: 400 }]);
  });

  it('does not pass on what the client claims of its address', async () => {
    await rawExchange(gw.url, handshake('/api/results?mrn=100002', 'X-Real-IP: 10.9.9.9\r\nForwarded: for=10.9.9.9\r\n'));
    const seen = rest.received.at(-1)!;
    expect(seen.url).toBe('/api/results?mrn=100002');
    expect(seen.headers).toMatchObject({ 'x-real-ip': '127.0.0.1' });
    expect(seen.headers.forwarded).toBeUndefined();
  });

  it('logs a client request id that is not a generated one as its hash, and passes it on unchanged', async () => {
    const since = logged.length;
    const got = parse(await rawExchange(gw.url, handshake('/api/results?mrn=100001', 'X-Request-Id: ORU-100001-0042\r\n')));
    expect(valuesOf(got, 'x-request-id')).toEqual(['ORU-100001-0042']);
    expect(rest.received.at(-1)?.headers['x-request-id']).toBe('ORU-100001-0042');
    const lines = logged.slice(since);
    const hash = createHash('sha256').update('ORU-100001-0042').digest('hex').slice(0, 12);
    expect(lines).toMatchObject([{ rule: 'results-read', reqId: `sha256:${hash}` }]);
    expect(JSON.stringify(lines)).not.toContain('100001');
  });
});

