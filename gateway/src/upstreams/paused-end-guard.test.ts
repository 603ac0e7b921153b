import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool, type Dispatcher } from 'undici';
import { guardedConnector, TruncatedUpstreamResponseError } from './paused-end-guard.js';

let server: Server;
let url: string;

beforeAll(async () => {
  // answers with Connection: close and half of the promised body, then closes
  server = createServer((sock) => {
    sock.on('error', () => undefined);
    sock.once('data', () => {
      sock.write('HTTP/1.1 200 OK\r\nContent-Length: 65536\r\nConnection: close\r\n\r\n');
      sock.end(Buffer.alloc(32_768, 1));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => server.close());

/** A handler that pauses on the first chunk and never resumes: a client that stopped reading. */
function pausingRequest(pool: Pool): Promise<Error> {
  return new Promise((resolve) => {
    const handler: Dispatcher.DispatchHandler = {
      onConnect() {},
      onHeaders: () => true,
      onData: () => false,
      onComplete: () => resolve(new Error('completed, but the body was cut short')),
      onError: (err) => resolve(err),
    };
    pool.dispatch({ path: '/', method: 'GET' }, handler);
  });
}

describe('paused-parser guard (undici#5360)', () => {
  it('turns an upstream that closes while the parser is paused into an error instead of a crash', async () => {
    const pool = new Pool(url, { connect: guardedConnector({ timeout: 1_000 }) });
    const err = await pausingRequest(pool);
    expect(err).toBeInstanceOf(TruncatedUpstreamResponseError);
    await pool.destroy();
  });

  it('is still needed: the bug is present in the undici this project uses', async () => {
    // Without the guard, the same exchange throws from a socket handler. Run it in a child
    // process so the crash cannot take the test runner down.
    const { execFile } = await import('node:child_process');
    const script = `
      const { Pool } = require('undici');
      const pool = new Pool(${JSON.stringify(url)});
      pool.dispatch({ path: '/', method: 'GET' }, { onConnect() {}, onHeaders: () => true, onData: () => false, onComplete() {}, onError() {} });
      setTimeout(() => process.exit(0), 1500);
    `;
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(process.execPath, ['-e', script], { cwd: import.meta.dirname }, (error, _stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
    // if this starts failing, undici fixed #5360 and the guard can go
    expect(result.stderr).toContain('assert(!this.paused)');
    expect(result.code).not.toBe(0);
  });
});
