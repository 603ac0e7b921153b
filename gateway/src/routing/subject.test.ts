import { describe, expect, it } from 'vitest';
import type { HttpRule } from '@ficus/contracts';
import { parseRequestTarget } from './request-target.js';
import { isAmbiguous, Router, type RouteMatch } from './router.js';
import { anySubject } from './subject.js';

const rules: HttpRule[] = [
  { id: 'patients-read', match: { methods: ['GET'], path: '/api/patients/:mrn' }, mode: 'legacy', sticky: { param: 'mrn' } },
  { id: 'patients-write', match: { methods: ['POST', 'PUT'], paths: ['/api/patients', '/api/patients/:mrn'] }, mode: 'legacy', sticky: { param: 'mrn' } },
  { id: 'results-read', match: { methods: ['GET'], path: '/api/results' }, mode: 'legacy', sticky: { query: 'mrn' } },
  { id: 'search', match: { methods: ['GET'], path: '/api/search' }, mode: 'legacy', sticky: { header: 'x-user-id' } },
  { id: 'legacy-default', match: { path: '/**' }, mode: 'legacy' },
];
const router = new Router({ upstreams: { legacy: { url: 'http://127.0.0.1:1' } }, http: rules });

function subjects(method: string, url: string, headers: Record<string, string> = {}): string[] {
  const target = parseRequestTarget(url);
  const match = router.route(method, target, headers, Object.entries(headers).flat());
  if (match === undefined || isAmbiguous(match)) throw new Error('no match');
  const seen: string[] = [];
  anySubject(match as RouteMatch, target, (kind, value) => {
    seen.push(`${kind}=${value}`);
    return false;
  });
  return seen;
}

describe('the subject of a request (read-your-writes)', () => {
  it('is the sticky path or query parameter, named as the rule names it', () => {
    expect(subjects('GET', '/api/patients/100001')).toEqual(['mrn=100001']);
    expect(subjects('PUT', '/api/patients/A%20B')).toEqual(['mrn=A B']);
    expect(subjects('GET', '/api/results?from=2026&mrn=100001')).toEqual(['mrn=100001']);
  });

  it('names every copy of a repeated query parameter, once each', () => {
    expect(subjects('GET', '/api/results?mrn=1&mrn=2&mrn=1&mrn=')).toEqual(['mrn=1', 'mrn=2']);
  });

  it('is none where the rule has no sticky parameter, the request leaves it empty or out, or the key names a client', () => {
    expect(subjects('POST', '/api/patients')).toEqual([]);
    expect(subjects('GET', '/api/results')).toEqual([]);
    expect(subjects('GET', '/api/results?mrn=')).toEqual([]);
    expect(subjects('GET', '/api/search', { 'x-user-id': 'nurse1' })).toEqual([]);
    expect(subjects('GET', '/api/other/1')).toEqual([]);
  });

  it('stops at the first subject the visitor accepts', () => {
    const target = parseRequestTarget('/api/results?mrn=1&mrn=2');
    const match = router.route('GET', target, {}, []) as RouteMatch;
    const seen: string[] = [];
    expect(anySubject(match, target, (_k, v) => (seen.push(v), true))).toBe(true);
    expect(seen).toEqual(['1']);
  });
});
