// Peer: a bare http-proxy forwarder with a keep-alive agent (what the user first named).
import { Agent, createServer } from 'node:http';
import httpProxy from 'http-proxy';

const target = process.env.TARGET!;
const agent = new Agent({ keepAlive: true, maxSockets: 128 });
const proxy = httpProxy.createProxyServer({ target, agent });
proxy.on('error', (_e, _req, res) => {
  if ('writeHead' in res && !res.headersSent) res.writeHead(502);
  res.end();
});
createServer((req, res) => proxy.web(req, res)).listen(Number(process.env.PORT), '127.0.0.1');
