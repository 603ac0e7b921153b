import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { HttpRule } from '@ficus/contracts';
import { RecentWrites } from '../routing/recent-writes.js';
import { parseRequestTarget, type RequestTarget } from '../routing/request-target.js';
import { Router, type RouteMatch } from '../routing/router.js';
import { rememberWrite, writtenRecently } from './read-after-write.js';
import type { ProxyRuntime } from './runtime.js';

const rules: HttpRule[] = [
  { id: 'patients-read', match: { methods: ['GET'], path: '/api/patients/:mrn' }, mode: 'new', target: 'svc', sticky: { param: 'mrn' } },
  { id: 'patients-write', match: { methods: ['POST', 'PUT'], paths: ['/api/patients', '/api/patients/:mrn'] }, mode: 'legacy', sticky: { param: 'mrn' } },
  { id: 'results-read', match: { methods: ['GET'], path: '/api/results' }, mode: 'new', target: 'svc', sticky: { query: 'mrn' } },
  { id: 'legacy-default', match: { path: '/**' }, mode: 'legacy' },
];

function runtime(caseInsensitivePaths = false): ProxyRuntime {
  const upstreams = { legacy: { url: 'http://127.0.0.1:1' }, svc: { url: 'http://127.0.0.1:2' } };
  return { router: new Router({ upstreams, http: rules }, { caseInsensitivePaths }), recentWrites: new RecentWrites(10_000) } as unknown as ProxyRuntime;
}

const req = { headers: {}, rawHeaders: [] } as unknown as IncomingMessage;

function write(rt: ProxyRuntime, method: string, url: string, location?: string): void {
  const target = parseRequestTarget(url);
  rememberWrite(rt, { ...req, method } as IncomingMessage, rt.router.route(method, target, {}, []) as RouteMatch, target, location === undefined ? [] : [Buffer.from('Location'), Buffer.from(location)]);
}

function held(rt: ProxyRuntime, url: string): boolean {
  const target = parseRequestTarget(url);
  return writtenRecently(rt, 'GET', rt.router.route('GET', target, {}, []) as RouteMatch, target);
}

describe('read after write, by subject', () => {
  it('a write holds the reads of its subject under every rule that names it alike', () => {
    const rt = runtime();
    write(rt, 'PUT', '/api/patients/100001');
    expect(held(rt, '/api/results?mrn=100001')).toBe(true);
    expect(held(rt, '/api/results?mrn=100002')).toBe(false);
  });

  it('a POST takes its subject from the rule that would read its Location, query included', () => {
    const rt = runtime();
    write(rt, 'POST', '/api/patients', 'http://legacy.example/api/patients/200001');
    expect(held(rt, '/api/results?mrn=200001')).toBe(true);
    write(rt, 'POST', '/api/lab-orders', '/api/results?mrn=200002');
    expect(held(rt, '/api/patients/200002')).toBe(true);
  });

  it('with paths read regardless of case, an id is too', () => {
    const rt = runtime(true);
    write(rt, 'PUT', '/api/patients/abc');
    expect(held(rt, '/api/results?mrn=ABC')).toBe(true);
  });

  it('with paths read regardless of case, query names are too: `?MRN=` names the patient written', () => {
    const rt = runtime(true);
    write(rt, 'PUT', '/api/patients/100001');
    expect(held(rt, '/api/results?MRN=100001')).toBe(true);
    expect(held(rt, '/api/results?from=1&Mrn=100001')).toBe(true);
    write(rt, 'POST', '/api/lab-orders', '/api/results?MRN=200002');
    expect(held(rt, '/api/patients/200002')).toBe(true);
    const plain = runtime();
    write(plain, 'PUT', '/api/patients/100001');
    expect(held(plain, '/api/results?MRN=100001')).toBe(false);
  });

  it('builds no key while nothing is remembered (the hot path)', () => {
    const rt = runtime();
    const target = parseRequestTarget('/api/results?mrn=1');
    const match = rt.router.route('GET', target, {}, []) as RouteMatch;
    const untouched = new Proxy(target, {
      get: (t, p) => {
        throw new Error(`read ${String(p)}`);
      },
    }) as RequestTarget;
    expect(writtenRecently(rt, 'GET', match, untouched)).toBe(false);
  });
});
