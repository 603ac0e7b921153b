import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HttpRule, RuleSet } from '@ficus/contracts';
import { decide } from './decide.js';
import { parseRequestTarget } from './request-target.js';
import { isAmbiguous, Router, type CompiledRule, type RouteMatch } from './router.js';

const upstreams = { legacy: { url: 'http://127.0.0.1:1' }, svc: { url: 'http://127.0.0.1:2' } };
const rule = (id: string, path: string | string[], extra: Partial<HttpRule> = {}): HttpRule => ({
  id,
  match: Array.isArray(path) ? { paths: path } : { path },
  mode: 'legacy',
  ...extra,
});

function route(router: Router, method: string, url: string, headers: Record<string, string> = {}) {
  return router.match(method, parseRequestTarget(url), headers)?.rule.id;
}

describe('router', () => {
  const rs: RuleSet = {
    upstreams,
    http: [
      rule('patients-read', '/api/patients/:mrn', { match: { path: '/api/patients/:mrn', methods: ['GET'] } }),
      rule('patients-write', ['/api/patients', '/api/patients/:mrn'], { match: { paths: ['/api/patients', '/api/patients/:mrn'], methods: ['POST', 'PUT'] } }),
      rule('search', '/api/patients', { match: { path: '/api/patients', methods: ['GET'] } }),
      rule('icu', '/api/**', { match: { path: '/api/**', headers: { 'X-Ward': { equals: 'ICU' } } } }),
      rule('beta', '/api/*/beta', { match: { path: '/api/*/beta', query: { v: { regex: '^2' } } } }),
      rule('files', '/files/**'),
      rule('root', '/'),
      rule('catch-all', '/**'),
    ],
  };
  const router = new Router(rs);

  it('takes the first rule that matches', () => {
    expect(route(router, 'GET', '/api/patients/100001')).toBe('patients-read');
    expect(route(router, 'HEAD', '/api/patients/100001')).toBe('patients-read');
    expect(route(router, 'PUT', '/api/patients/100001')).toBe('patients-write');
    expect(route(router, 'POST', '/api/patients')).toBe('patients-write');
    expect(route(router, 'GET', '/api/patients?name=SMITH')).toBe('search');
    expect(route(router, 'GET', '/api/patients/')).toBe('search');
    expect(route(router, 'DELETE', '/api/patients/1')).toBe('catch-all');
    expect(route(router, 'DELETE', '/api/patients/1', { 'x-ward': 'ICU' })).toBe('icu');
    expect(route(router, 'GET', '/api/x/beta?v=2.1')).toBe('beta');
    expect(route(router, 'GET', '/api/x/beta?v=1')).toBe('catch-all');
    expect(route(router, 'GET', '/files')).toBe('files');
    expect(route(router, 'GET', '/files/a/b/c')).toBe('files');
    expect(route(router, 'GET', '/')).toBe('root');
    expect(route(router, 'GET', '/anything/else')).toBe('catch-all');
  });

  it('decodes percent-encoded segments before comparing', () => {
    expect(route(router, 'GET', '/api/%70atients/1')).toBe('patients-read');
  });

  it('does not let a parameter match an empty segment: a run of slashes is one', () => {
    expect(route(router, 'GET', '/api/patients//')).toBe(route(router, 'GET', '/api/patients'));
    expect(route(router, 'GET', '/api//patients//7')).toBe('patients-read');
    expect(route(router, 'GET', '/api//x')).toBe('catch-all');
  });

  it('compares literal segments regardless of case when asked (IIS), parameters as written', () => {
    const ci = new Router(rs, { caseInsensitivePaths: true });
    expect(route(router, 'GET', '/API/Patients/Ab12')).toBe('catch-all');
    expect(route(ci, 'GET', '/API/Patients/Ab12')).toBe('patients-read');
    expect(route(ci, 'GET', '/Files/x')).toBe('files');
    expect(route(ci, 'GET', '/api/X/BETA?v=2')).toBe('beta');
    const target = parseRequestTarget('/API/Patients/Ab12');
    ci.match('GET', target, {});
    expect(target.segments).toEqual(['API', 'Patients', 'Ab12']);
  });

  describe('query parameter names, with caseInsensitivePaths (ASP.NET reads them regardless of case)', () => {
    const http = [
      rule('census', '/reports/census', { mode: 'retired', target: 'svc', match: { path: '/reports/census', query: { Ward: { equals: 'ICU' } } } }),
      rule('encounters', '/api/encounters', { mode: 'retired', target: 'svc', match: { path: '/api/encounters', query: { mrn: { present: true } } } }),
      rule('results', '/api/results', { mode: 'canary', percent: 50, target: 'svc', sticky: { query: 'mrn' } }),
      rule('catch-all', '/**'),
    ];
    const ci = new Router({ upstreams, http }, { caseInsensitivePaths: true });
    const plain = new Router({ upstreams, http });
    const routed = (r: Router, url: string) => {
      const m = r.route('GET', parseRequestTarget(url), {}, []);
      return m && (isAmbiguous(m) ? `refused by ${m.rule.id}: ${m.ambiguous.name}` : m.rule.id);
    };
    const stickyKey = (r: Router, url: string) => {
      const target = parseRequestTarget(url);
      return decide(r.route('GET', target, {}, []) as RouteMatch, {}, target, []).key;
    };

    it('a predicate takes the name in any case, escaped or not; values keep theirs', () => {
      for (const q of ['mrn=100001', 'MRN=100001', 'Mrn=100001', '%4Drn=100001', '%4drn=1', 'x=Y&MRN']) expect(routed(ci, `/api/encounters?${q}`), q).toBe('encounters');
      expect(routed(ci, '/API/Encounters?MRN=100001')).toBe('encounters');
      expect(routed(ci, '/reports/census?WARD=ICU')).toBe('census');
      expect(routed(ci, '/reports/census?ward=icu')).toBe('catch-all');
      expect(routed(ci, '/api/encounters?MRNX=1')).toBe('catch-all');
      // without the setting, as before
      expect(routed(plain, '/api/encounters?MRN=100001')).toBe('catch-all');
      expect(routed(plain, '/reports/census?ward=ICU')).toBe('catch-all');
    });

    it('a name sent twice in different cases is a repeated parameter: refused when its copies disagree', () => {
      expect(routed(ci, '/reports/census?ward=ICU&WARD=ER')).toBe('refused by census: ward');
      expect(routed(ci, '/reports/census?ward=ICU&WARD=ICU')).toBe('census');
      expect(routed(ci, '/reports/census?ward=ER&WARD=CCU')).toBe('catch-all');
      expect(routed(ci, '/api/encounters?mrn=1&MRN=2')).toBe('encounters');
    });

    it('the sticky query key is read whatever the case of its name, its value as written', () => {
      expect(stickyKey(ci, '/api/results?MRN=Ab1')).toBe('Ab1');
      expect(stickyKey(ci, '/api/results?from=2026&Mrn=Ab1')).toBe('Ab1');
      expect(stickyKey(plain, '/api/results?MRN=Ab1')).toBeUndefined();
    });

    it('folds the query only where a rule reads it, and keeps it for the rest of the request', () => {
      const target = parseRequestTarget('/api/results?MRN=1');
      ci.route('GET', target, {}, []);
      expect(target.foldedQuery).toBeUndefined();
      const read = parseRequestTarget('/api/encounters?MRN=1');
      ci.route('GET', read, {}, []);
      expect(read.foldedQuery).toBe('mrn=1');
      const off = parseRequestTarget('/api/encounters?MRN=1');
      plain.route('GET', off, {}, []);
      expect(off.foldedQuery).toBeUndefined();
    });
  });

  // the candidate index must never change which rule wins: compare with a plain first-match scan
  it('answers exactly as a linear first-match scan would (property)', () => {
    const seg = fc.constantFrom('api', 'patients', 'files', 'x', '1', 'beta');
    const patSeg = fc.oneof(seg, fc.constant(':p'), fc.constant('*'));
    const pattern = fc
      .tuple(fc.array(patSeg, { maxLength: 4 }), fc.boolean())
      .map(([segs, open]) => {
        let n = 0;
        const named = segs.map((s) => (s === ':p' ? `:p${n++}` : s));
        return '/' + [...named, ...(open ? ['**'] : [])].join('/');
      });
    const methods = fc.option(fc.subarray(['GET', 'POST', 'PUT'] as const, { minLength: 1 }), { nil: undefined });
    const rules = fc.array(fc.tuple(pattern, methods), { minLength: 1, maxLength: 12 }).map((rs) =>
      rs.map(([path, m], i): HttpRule => ({ id: `r${i}`, mode: 'legacy', match: m ? { path, methods: [...m] } : { path } })),
    );
    const request = fc.tuple(fc.constantFrom('GET', 'HEAD', 'POST', 'PUT'), fc.array(seg, { maxLength: 5 }));

    fc.assert(
      fc.property(rules, fc.array(request, { minLength: 1, maxLength: 20 }), (httpRules, requests) => {
        const r = new Router({ upstreams, http: httpRules });
        const linear = (method: string, segments: string[]) =>
          r.rules.find((c: CompiledRule) => {
            if (c.methods && !c.methods.has(method)) return false;
            return c.patterns.some((p) => {
              const fixed = p.fixed;
              if (p.pattern.open ? segments.length < fixed : segments.length !== fixed) return false;
              return p.pattern.segments.slice(0, fixed).every((s, i) => (s.kind === 'literal' ? s.value === segments[i] : true));
            });
          })?.id;
        for (const [method, segments] of requests) {
          const url = '/' + segments.join('/');
          expect(r.match(method, parseRequestTarget(url), {})?.rule.id).toBe(linear(method, segments));
        }
      }),
      { numRuns: 3_000 },
    );
  });
});
