/**
 * A WebSocket handshake has the deadlines of any request and feeds its upstream's circuit
 * breaker. Before, http-proxy waited for ever on an upstream that accepted the connection and
 * never answered (its proxyTimeout does not apply to upgrades), the breaker heard nothing of
 * handshakes, a half-open circuit let every handshake through, and a client that left
 * mid-handshake left the upstream connection open.
 */
import { createServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import type { Logger } from '@ficus/contracts';
import { until } from '../../test-support/until.js';
import { startBlackhole } from './support/blackhole.js';
import { startGatewayUnderTest, type GatewayUnderTest } from './support/gateway-harness.js';

/** A WebSocket upstream whose answer to a handshake the test sets; it can go down and come back. */
interface WsUpstream {
  url: string;
  behaviour: 'accept' | 'hang' | '503' | '404';
  /** handshakes received since start */
  handshakes: number;
  open(): number;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

async function startWsUpstream(): Promise<WsUpstream> {
  const wss = new WebSocketServer({ noServer: true });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  const sockets = new Set<Socket>();
  let server: Server;
  let port = 0;
  const up: WsUpstream = {
    url: '',
    behaviour: 'accept',
    handshakes: 0,
    open: () => sockets.size,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
    restart: () => listen(),
  };
  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer();
      server.on('connection', (s: Socket) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      server.on('upgrade', (req, socket: Duplex, head: Buffer) => {
        up.handshakes++;
        // an upgraded connection is no longer the server's: its close is this handler's to notice
        socket.once('end', () => socket.destroy());
        if (up.behaviour === 'accept') wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
        else if (up.behaviour !== 'hang') {
          const status = up.behaviour === '503' ? '503 Service Unavailable' : '404 Not Found';
          socket.end(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
        }
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server.address() as AddressInfo).port;
        up.url = `http://127.0.0.1:${port}`;
        resolve();
      });
    });
  await listen();
  return up;
}

/** Accepts connections and never says a word. */
async function startSilent(): Promise<{ server: TcpServer; url: string; open(): number; accepted: number }> {
  const sockets = new Set<Socket>();
  const silent = { server: createTcpServer(), url: '', open: () => sockets.size, accepted: 0 };
  silent.server.on('connection', (s) => {
    silent.accepted++;
    sockets.add(s);
    s.on('error', () => undefined);
    // read (and drop) what comes, so that the gateway's FIN is seen
    s.resume();
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => silent.server.listen(0, '127.0.0.1', resolve));
  silent.url = `http://127.0.0.1:${(silent.server.address() as AddressInfo).port}`;
  return silent;
}

let legacy: WsUpstream;
let svc: WsUpstream;
let silent: Awaited<ReturnType<typeof startSilent>>;
let blackhole: Awaited<ReturnType<typeof startBlackhole>>;
let gw: GatewayUnderTest;
const logged: Record<string, unknown>[] = [];

const quiet = 'healthCheck: { enabled: false }';

beforeAll(async () => {
  legacy = await startWsUpstream();
  svc = await startWsUpstream();
  silent = await startSilent();
  blackhole = await startBlackhole();
  gw = await startGatewayUnderTest({
    'u.yaml': [
      'upstreams:',
      `  legacy: { url: "${legacy.url}", ${quiet} }`,
      `  silent: { url: "${silent.url}", timeouts: { connectMs: 300, responseHeadersMs: 400 }, ${quiet} }`,
      `  silent-patient: { url: "${silent.url}", timeouts: { connectMs: 300, responseHeadersMs: 30000 }, ${quiet} }`,
      `  nowhere: { url: "http://127.0.0.1:${blackhole.port}", timeouts: { connectMs: 300, responseHeadersMs: 30000 }, ${quiet} }`,
      `  ws-svc: { url: "${svc.url}", timeouts: { connectMs: 300, responseHeadersMs: 1500 }, circuitBreaker: { failureThreshold: 3, openMs: 300 }, ${quiet} }`,
      '',
    ].join('\n'),
    'r.yaml': [
      'http:',
      '  - { id: ws-silent, match: { path: /ws/silent/** }, mode: legacy, legacy: silent }',
      '  - { id: ws-patient, match: { path: /ws/patient/** }, mode: legacy, legacy: silent-patient }',
      '  - { id: ws-nowhere, match: { path: /ws/nowhere/** }, mode: legacy, legacy: nowhere }',
      '  - { id: ws-new, match: { path: /ws/new/** }, mode: new, target: ws-svc, fallback: false }',
      '  - { id: ws-fb, match: { path: /ws/fb/** }, mode: new, target: ws-svc }',
      '  - { id: legacy-default, match: { path: /** }, mode: legacy }',
      '',
    ].join('\n'),
  });
  gw.gateway.runtime.accessLog = { info: (line: Record<string, unknown>) => void logged.push(line) } as unknown as Logger;
});
afterAll(async () => {
  await gw?.close();
  await legacy?.stop();
  await svc?.stop();
  silent?.server.close();
  blackhole?.close();
});

const handshake = (path: string) =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;

interface Answer {
  status: number;
  body: string;
  ms: number;
  /** the problem body's fields, when it is one */
  problem?: { type: string; detail: string };
}

/** A handshake on a raw connection; all the gateway sends until it closes it, or nothing after `ms`. */
function rawHandshake(path: string, ms = 5000): Promise<Answer> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(gw.url).port), '127.0.0.1', () => socket.write(handshake(path)));
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to the handshake within ${ms} ms`));
    }, ms);
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      const body = got.slice(got.indexOf('\r\n\r\n') + 4);
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(got)?.[1]);
      const problem = got.includes('application/problem+json') ? (JSON.parse(body) as Answer['problem']) : undefined;
      resolve({ status, body, ms: performance.now() - t0, problem });
    });
  });
}

/** Opens a WebSocket through the gateway; answers its handshake headers and whether it echoes. */
async function openWebSocket(path: string): Promise<{ route: string | undefined; echoed: string }> {
  const ws = new WebSocket(gw.url.replace('http', 'ws') + path);
  const headers = new Promise<Record<string, string | string[] | undefined>>((resolve) => ws.once('upgrade', (res) => resolve(res.headers)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const echoed = new Promise<string>((resolve) => ws.once('message', (d) => resolve(d.toString())));
  ws.send('bed 12');
  const result = { route: (await headers)['x-ficus-route'] as string | undefined, echoed: await echoed };
  ws.close();
  return result;
}

async function metricsText(): Promise<string> {
  return (await fetch(gw.url + '/metrics')).text();
}

async function metric(prefix: string): Promise<number> {
  const line = (await metricsText()).split('\n').find((l) => l.startsWith(prefix));
  return line ? Number(line.split(' ').pop()) : 0;
}

const counted = (rule: string, target: string, code: number, fallback = false) =>
  metric(`ficus_http_requests_total{rule="${rule}",target="${target}",fallback="${fallback}",code="${code}"}`);
const circuit = () => metric('ficus_circuit_state{upstream="ws-svc"}');

describe('WebSocket handshake deadlines', () => {
  it('an upstream that accepts the connection and never answers: 504 problem after responseHeadersMs, its connection closed, counted and logged', async () => {
    const before = await counted('ws-silent', 'silent', 504);
    const since = logged.length;
    const got = await rawHandshake('/ws/silent/board');
    expect(got.status).toBe(504);
    expect(got.problem).toMatchObject({ type: expect.stringContaining('upstream-timeout'), detail: 'upstream "silent": response-timeout' });
    expect(got.ms).toBeGreaterThanOrEqual(380);
    expect(got.ms).toBeLessThan(2500);
    await until(() => silent.open() === 0, 'the upstream connection closed', 2000);
    expect(await counted('ws-silent', 'silent', 504)).toBe(before + 1);
    expect(logged.slice(since)).toMatchObject([{ rule: 'ws-silent', target: 'silent', status: 504, method: 'GET' }]);
  });

  it('a connect that hangs: 504 problem after connectMs', async () => {
    const got = await rawHandshake('/ws/nowhere/board');
    expect(got.status).toBe(504);
    expect(got.problem).toMatchObject({ type: expect.stringContaining('upstream-timeout'), detail: 'upstream "nowhere": connect-timeout' });
    expect(got.ms).toBeGreaterThanOrEqual(280);
    expect(got.ms).toBeLessThan(2500);
    expect(await counted('ws-nowhere', 'nowhere', 504)).toBe(1);
  });

  it.each(['half-closes', 'resets'])('a client that %s mid-handshake frees both connections at once (499)', async (how) => {
    const before = await counted('ws-patient', 'silent-patient', 499);
    const accepted = silent.accepted;
    const openBefore = silent.open();
    const client = connect(Number(new URL(gw.url).port), '127.0.0.1', () => client.write(handshake('/ws/patient/board')));
    client.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    await until(() => silent.accepted > accepted && silent.open() === openBefore + 1, 'the handshake at the upstream', 2000);
    if (how === 'half-closes') client.end();
    else client.resetAndDestroy();
    // the upstream's response deadline is 30 s: only the client's leaving can end this
    await until(() => silent.open() === openBefore, 'the upstream connection closed', 2000);
    await closed;
    await until(async () => (await counted('ws-patient', 'silent-patient', 499)) === before + 1, 'the 499 counted', 2000);
  });
});

describe('WebSocket handshakes and the circuit breaker', () => {
  it('refused connections, a head timeout and a 5xx answer open the circuit; no fallback rule gets 503, a fallback rule legacy; the upstream back closes it', async () => {
    await svc.stop();
    expect((await rawHandshake('/ws/new/board')).problem).toMatchObject({ type: expect.stringContaining('upstream-unreachable') });
    await svc.restart();
    svc.behaviour = 'hang';
    expect((await rawHandshake('/ws/new/board')).problem).toMatchObject({ detail: 'upstream "ws-svc": response-timeout' });
    svc.behaviour = '503';
    expect((await rawHandshake('/ws/new/board')).status).toBe(503);
    expect(await circuit()).toBe(2);

    const seen = svc.handshakes;
    const refused = await rawHandshake('/ws/new/board');
    expect(refused).toMatchObject({ status: 503, problem: { type: expect.stringContaining('upstream-unavailable'), detail: 'the circuit of upstream "ws-svc" is open' } });
    expect(await counted('ws-new', 'ws-svc', 503)).toBe(2); // the upstream's own 503, and the gateway's
    const fallbacks = await metric('ficus_fallbacks_total{rule="ws-fb",reason="circuit-open"}');
    expect(await openWebSocket('/ws/fb/board')).toEqual({ route: 'ws-fb; legacy (fallback)', echoed: 'bed 12' });
    expect(await metric('ficus_fallbacks_total{rule="ws-fb",reason="circuit-open"}')).toBe(fallbacks + 1);
    expect(await counted('ws-fb', 'legacy', 101, true)).toBe(1);
    expect(svc.handshakes).toBe(seen);

    svc.behaviour = 'accept';
    await sleep(350);
    expect(await openWebSocket('/ws/new/board')).toEqual({ route: 'ws-new; ws-svc', echoed: 'bed 12' });
    expect(await circuit()).toBe(0);
    expect(await openWebSocket('/ws/fb/board')).toEqual({ route: 'ws-fb; ws-svc', echoed: 'bed 12' });
  });

  it('half-open: one trial handshake at a time; a trial whose client leaves gives the slot back; a 4xx answer closes the circuit', async () => {
    svc.behaviour = '503';
    for (let i = 0; i < 3; i++) expect((await rawHandshake('/ws/new/board')).status).toBe(503);
    expect(await circuit()).toBe(2);
    await sleep(350);

    // the trial: the upstream takes it and says nothing
    svc.behaviour = 'hang';
    const seen = svc.handshakes;
    const trial = connect(Number(new URL(gw.url).port), '127.0.0.1', () => trial.write(handshake('/ws/new/board')));
    trial.on('error', () => undefined);
    await until(() => svc.handshakes > seen, 'the trial at the upstream', 1000);

    // while it is under way, no other handshake is sent
    expect(await rawHandshake('/ws/new/board')).toMatchObject({
      status: 503,
      problem: { detail: expect.stringMatching(/^the circuit of upstream "ws-svc" is half-open: its one trial request is under way/) },
    });
    expect((await openWebSocket('/ws/fb/board')).route).toBe('ws-fb; legacy (fallback)');
    expect(svc.handshakes).toBe(seen + 1);

    // its client leaves: the next handshake is the trial, well before the trial's own deadline
    trial.destroy();
    await until(() => svc.open() === 0, 'the trial connection closed', 1000);
    svc.behaviour = '404';
    expect((await rawHandshake('/ws/new/board')).status).toBe(404);
    expect(await circuit()).toBe(0);
    svc.behaviour = 'accept';
  });
});
