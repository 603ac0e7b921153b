import { createServer, type IncomingMessage } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { HttpRule, RuleSet } from '@ficus/contracts';
import { AMBIGUOUS, FIRST_COPY_ONLY, testHeader, testQuery } from './repeated-values.js';
import { parseRequestTarget } from './request-target.js';
import { isAmbiguous, Router } from './router.js';

/** What Node's server makes of a request with these header lines: its joined headers and the raw list. */
async function received(lines: [string, string][]): Promise<Pick<IncomingMessage, 'headers' | 'rawHeaders'>> {
  const server = createServer((req, res) => {
    res.end();
    got({ headers: req.headers, rawHeaders: req.rawHeaders });
  });
  let got!: (r: Pick<IncomingMessage, 'headers' | 'rawHeaders'>) => void;
  const result = new Promise<Pick<IncomingMessage, 'headers' | 'rawHeaders'>>((resolve) => (got = resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.end(`GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n${lines.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
  const r = await result;
  socket.destroy();
  await new Promise((resolve) => server.close(resolve));
  return r;
}

const equals = (want: string) => (v: string | undefined) => v === want;

describe('a predicate over the copies of a header', () => {
  it('FIRST_COPY_ONLY is what this Node keeps one copy of, so a repeat of those is always looked for', async () => {
    const probe = [...FIRST_COPY_ONLY].filter((n) => n !== 'host' && n !== 'content-length').concat(['x-ward', 'accept', 'cookie', 'via', 'x-request-id', 'cache-control', 'forwarded', 'prefer', 'accept-language']);
    const req = await received(probe.flatMap((n) => [[n, 'a'], [n, 'b']] as [string, string][]));
    const keptFirst = probe.filter((n) => req.headers[n] === 'a');
    expect(keptFirst.sort()).toEqual([...FIRST_COPY_ONLY].filter((n) => n !== 'host' && n !== 'content-length').sort());
  });

  it('takes identical copies as one value, and copies that give the same answer as that answer', async () => {
    const twice = await received([['X-Ward', '7'], ['x-ward', '7']]);
    expect(twice.headers['x-ward']).toBe('7, 7');
    expect(testHeader(equals('7'), 'x-ward', twice.headers, twice.rawHeaders)).toBe(true);
    const otherWards = await received([['X-Ward', '8'], ['X-Ward', '9']]);
    expect(testHeader(equals('7'), 'x-ward', otherWards.headers, otherWards.rawHeaders)).toBe(false);
    expect(testHeader((v) => v !== undefined && /^\d$/.test(v), 'x-ward', otherWards.headers, otherWards.rawHeaders)).toBe(true);
  });

  it('is ambiguous when copies disagree about it, for equals and regex alike; never for present', async () => {
    const req = await received([['X-Ward', '7'], ['X-Ward', '8']]);
    expect(testHeader(equals('7'), 'x-ward', req.headers, req.rawHeaders)).toBe(AMBIGUOUS);
    expect(testHeader((v) => v !== undefined && /^7/.test(v), 'x-ward', req.headers, req.rawHeaders)).toBe(AMBIGUOUS);
    expect(testHeader((v) => v !== undefined, 'x-ward', req.headers, req.rawHeaders)).toBe(true);
    expect(testHeader((v) => v === undefined, 'x-ward', req.headers, req.rawHeaders)).toBe(false);
    expect(testHeader((v) => v === undefined, 'x-other', req.headers, req.rawHeaders)).toBe(true);
    // an empty copy is a copy
    const empty = await received([['X-Ward', '7'], ['X-Ward', '']]);
    expect(testHeader(equals('7'), 'x-ward', empty.headers, empty.rawHeaders)).toBe(AMBIGUOUS);
  });

  it('sees the copies of headers Node keeps one of, and of cookies Node joins with "; "', async () => {
    const ua = await received([['User-Agent', 'ward-kiosk'], ['User-Agent', 'curl/8']]);
    expect(ua.headers['user-agent']).toBe('ward-kiosk');
    expect(testHeader(equals('ward-kiosk'), 'user-agent', ua.headers, ua.rawHeaders)).toBe(AMBIGUOUS);
    const cookies = await received([['Cookie', 'beta=1'], ['Cookie', 'beta=0']]);
    expect(testHeader((v) => v !== undefined && /beta=1/.test(v), 'cookie', cookies.headers, cookies.rawHeaders)).toBe(AMBIGUOUS);
  });

  it('takes one header line holding ", " as the one value it is', async () => {
    const req = await received([['X-Client', 'Acme, Inc.']]);
    expect(testHeader(equals('Acme, Inc.'), 'x-client', req.headers, req.rawHeaders)).toBe(true);
  });
});

describe('a predicate over the copies of a query parameter', () => {
  it('reads every copy, decoded', () => {
    expect(testQuery(equals('7'), 'ward', 'ward=7&ward=%37')).toBe(true);
    expect(testQuery(equals('7'), 'ward', 'ward=8&ward=9')).toBe(false);
    expect(testQuery(equals('7'), 'ward', 'ward=8&ward=7')).toBe(AMBIGUOUS);
    expect(testQuery(equals('7'), 'ward', 'x=1&ward=7')).toBe(true);
    expect(testQuery((v) => v !== undefined, 'ward', 'ward=8&ward=7')).toBe(true);
    expect(testQuery((v) => v === undefined, 'ward', 'x=1&y=2')).toBe(true);
    expect(testQuery(equals(''), 'ward', 'ward&ward=')).toBe(true);
  });
});

describe('routing a request whose copies disagree', () => {
  const upstreams = { legacy: { url: 'http://127.0.0.1:1' }, svc: { url: 'http://127.0.0.1:2' } };
  const rules: HttpRule[] = [
    { id: 'census-7', match: { methods: ['GET'], path: '/reports/census.html', headers: { 'X-Ward': { equals: '7' } } }, mode: 'retired', target: 'svc' },
    { id: 'results-ward', match: { methods: ['GET'], path: '/api/results', query: { ward: { equals: '7' } }, headers: { 'x-site': { equals: 'north' } } }, mode: 'retired', target: 'svc' },
    { id: 'legacy-default', match: { path: '/**' }, mode: 'legacy' },
  ];
  const router = new Router({ upstreams, http: rules } satisfies RuleSet);
  const route = async (url: string, lines: [string, string][]) => {
    const req = await received(lines);
    const r = router.route('GET', parseRequestTarget(url), req.headers, req.rawHeaders);
    return r && (isAmbiguous(r) ? { refused: r.rule.id, ...r.ambiguous } : r.rule.id);
  };

  it('takes the rule on identical copies (the probe: x-ward 7 twice went to legacy-default)', async () => {
    expect(await route('/reports/census.html', [['x-ward', '7'], ['x-ward', '7']])).toBe('census-7');
    expect(await route('/reports/census.html', [['x-ward', '8'], ['x-ward', '8']])).toBe('legacy-default');
  });

  it('refuses, rather than passing to a later rule, when the copies disagree about the rule', async () => {
    expect(await route('/reports/census.html', [['x-ward', '8'], ['x-ward', '7']])).toEqual({ refused: 'census-7', in: 'header', name: 'x-ward' });
    expect(await route('/api/results?ward=8&ward=7', [['x-site', 'north']])).toEqual({ refused: 'results-ward', in: 'query', name: 'ward' });
  });

  it('does not refuse when another condition of the rule settles it', async () => {
    expect(await route('/api/results?ward=8&ward=7', [['x-site', 'south']])).toBe('legacy-default');
    expect(await route('/api/results?ward=7&ward=7', [['x-site', 'north']])).toBe('results-ward');
  });
});
