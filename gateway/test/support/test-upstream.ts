/**
 * A programmable upstream for gateway tests: a real HTTP server on a real port whose answers
 * (status, delay, failure) a test can change while it runs, and which counts what it received.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  bodyBytes: number;
  aborted: boolean;
}

/** The first request for `url` received since index `since`: the gateway's health checks may come in between. */
export function receivedFor(upstream: Pick<TestUpstream, 'received'>, url: string, since = 0): Received {
  const found = upstream.received.slice(since).find((r) => r.url === url);
  if (!found) throw new Error(`no request for ${url} since #${since}: ${upstream.received.slice(since).map((r) => r.url).join(', ')}`);
  return found;
}

export interface TestUpstream {
  url: string;
  port: number;
  received: Received[];
  /** sockets currently open to this server */
  openSockets(): number;
  /** `beforeBody`: answer as soon as the head is in, without waiting for (or reading) the body */
  behave(fn: Handler, opts?: { beforeBody?: boolean }): void;
  /** stop listening and drop every connection (the upstream "goes down") */
  stop(): Promise<void>;
  /** listen again on the same port */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

export const answer = (status: number, body = '', headers: Record<string, string> = {}): Handler => (_req, res) => {
  res.writeHead(status, { 'content-type': 'text/plain', ...headers });
  res.end(body);
};

export async function startTestUpstream(name: string, handler: Handler = answer(200, name)): Promise<TestUpstream> {
  let current = handler;
  let beforeBody = false;
  const received: Received[] = [];
  const sockets = new Set<Socket>();
  let port = 0;
  let server: Server;

  const listen = () =>
    new Promise<void>((resolve) => {
      server = createServer((req, res) => {
        const rec: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes: 0, aborted: false };
        received.push(rec);
        // the body is not read here: Node reads and drops it after the answer, unless it closes
        if (beforeBody && req.url !== '/healthz') return current(req, res, Buffer.alloc(0));
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => {
          rec.bodyBytes += c.length;
          if (rec.bodyBytes < 1_000_000) chunks.push(c);
        });
        req.on('aborted', () => (rec.aborted = true));
        req.on('error', () => (rec.aborted = true));
        req.on('end', () => {
          if (req.url === '/healthz') return answer(200, 'ok')(req, res, Buffer.alloc(0));
          current(req, res, Buffer.concat(chunks));
        });
      });
      server.on('connection', (s: Socket) => {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  await listen();

  const stop = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });

  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    received,
    openSockets: () => sockets.size,
    behave: (fn, opts) => {
      current = fn;
      beforeBody = opts?.beforeBody ?? false;
    },
    stop,
    restart: listen,
    close: stop,
  };
}
