// Reference: a plain http server forwarding through an undici Pool with dispatch, and nothing
// else (no rules, no headers added, no metrics): the floor Ficus is built on.
import { createServer } from 'node:http';
import { Pool, type Dispatcher } from 'undici';

const pool = new Pool(process.env.TARGET!, { connections: 128, pipelining: 1 });

createServer((req, res) => {
  const headers: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() !== 'connection') headers.push(raw[i]!, raw[i + 1]!);
  let resume: () => void = () => {};
  const handler: Dispatcher.DispatchHandler = {
    onConnect() {},
    onHeaders(status, rawHeaders, r) {
      resume = r;
      const out: string[] = [];
      for (let i = 0; i < rawHeaders.length; i += 2) {
        const name = rawHeaders[i]!.toString('latin1');
        const lower = name.toLowerCase();
        if (lower !== 'connection' && lower !== 'keep-alive' && lower !== 'transfer-encoding') out.push(name, rawHeaders[i + 1]!.toString('latin1'));
      }
      res.writeHead(status, out);
      return true;
    },
    onData(chunk) {
      if (res.write(chunk)) return true;
      res.once('drain', resume);
      return false;
    },
    onComplete() {
      res.end();
    },
    onError() {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    },
  };
  pool.dispatch({ path: req.url!, method: req.method as Dispatcher.HttpMethod, headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req }, handler);
}).listen(Number(process.env.PORT), '127.0.0.1');
