/**
 * An HTTP request whose TCP connection starts from a loopback address of the test's choosing
 * (127.0.0.2, 127.0.0.3: all of 127/8 is this host on Linux). What a component records as its
 * caller's address can then be told apart from the admin API's own 127.0.0.1, without a second
 * machine: a peer at 127.0.0.2 is one the components' default trusted-proxy list does not name.
 */
import http from 'node:http';

export interface FromAnswer {
  status: number;
  body: string;
}

export function requestFrom(localAddress: string, url: string, o: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<FromAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: o.method ?? 'GET', headers: o.headers, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
}
