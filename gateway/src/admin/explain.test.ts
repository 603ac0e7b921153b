import { describe, expect, it } from 'vitest';
import type { RuleSet } from '@ficus/contracts';
import { bucketOf } from '../routing/canary.js';
import { BadTargetError } from '../routing/request-target.js';
import { explain } from './explain.js';

const ruleSet: RuleSet = {
  upstreams: { legacy: { url: 'http://127.0.0.1:1' }, svc: { url: 'http://127.0.0.1:2' } },
  http: [
    { id: 'patients-read', match: { methods: ['GET'], path: '/api/patients/:mrn' }, mode: 'retired', target: 'svc' },
    { id: 'legacy-default', match: { path: '/**' }, mode: 'legacy' },
  ],
};

const canarySet: RuleSet = {
  upstreams: ruleSet.upstreams,
  http: [
    { id: 'results-read', match: { methods: ['GET'], path: '/api/results', query: { mrn: { present: true } } }, mode: 'retired', target: 'svc' },
    { id: 'encounters-read', match: { methods: ['GET'], path: '/api/encounters' }, mode: 'canary', percent: 50, target: 'svc', sticky: { header: 'x-user-id' } },
    { id: 'legacy-default', match: { path: '/**' }, mode: 'legacy' },
  ],
};

const firstKey = (ok: (key: string) => boolean): string => {
  for (let i = 0; ; i++) if (ok(`nurse${i}`)) return `nurse${i}`;
};

describe('explain', () => {
  it('reads the path as the proxy does: slashes merged, path parameters left out', () => {
    expect(explain(ruleSet, 'GET', '/api//patients;jsessionid=1/100042', [])).toMatchObject({ rule: 'patients-read', target: 'svc' });
  });

  it('follows the gateway: literal segments regardless of case only when it is so configured', () => {
    expect(explain(ruleSet, 'GET', '/API/Patients/100042', [])).toMatchObject({ rule: 'legacy-default', target: 'legacy' });
    expect(explain(ruleSet, 'GET', '/API/Patients/100042', [], undefined, { caseInsensitivePaths: true })).toMatchObject({ rule: 'patients-read', target: 'svc' });
    // and query names: ASP.NET reads ?MRN= as ?mrn=
    expect(explain(canarySet, 'GET', '/api/results?MRN=100042', [])).toMatchObject({ rule: 'legacy-default', target: 'legacy' });
    expect(explain(canarySet, 'GET', '/api/results?MRN=100042', [], undefined, { caseInsensitivePaths: true })).toMatchObject({ rule: 'results-read', target: 'svc' });
  });

  it('follows the gateway: escaped slashes as FICUS_ENCODED_SLASHES reads them', () => {
    expect(explain(ruleSet, 'GET', '/api%2Fpatients%2F100042', [])).toMatchObject({ rule: 'legacy-default', target: 'legacy' });
    expect(explain(ruleSet, 'GET', '/api%2Fpatients%2F100042', [], undefined, { encodedSlashes: 'decode' })).toMatchObject({ rule: 'patients-read', target: 'svc' });
    expect(() => explain(ruleSet, 'GET', '/api%2Fpatients%2F100042', [], undefined, { encodedSlashes: 'refuse' })).toThrow(/escaped slash/);
  });

  it('says that TRACE and CONNECT never reach a rule: the proxy answers them 501 itself', () => {
    for (const method of ['TRACE', 'CONNECT']) {
      const e = explain(ruleSet, method, '/api/patients/100042', []);
      expect(e).toMatchObject({ rule: null, mode: null, target: null });
      expect(e.reason).toMatch(new RegExp(`^the gateway answers ${method} itself with 501`));
    }
  });

  it('refuses a method the proxy refuses: methods are case-sensitive, and Node knows a fixed list', () => {
    for (const method of ['get', 'trace', 'Post', 'TRACK', 'FOO']) {
      expect(() => explain(ruleSet, method, '/api/patients/100042', []), method).toThrow(BadTargetError);
      expect(() => explain(ruleSet, method, '/api/patients/100042', []), method).toThrow(/case-sensitive/);
    }
    expect(explain(ruleSet, 'M-SEARCH', '/x', [])).toMatchObject({ rule: 'legacy-default' });
  });

  it('refuses a target with a fragment, as the proxy does (it said legacy-default, while legacy reads "#mrn=…" as the query)', () => {
    expect(() => explain(ruleSet, 'GET', '/api/patients/100042#x', [])).toThrow(/request target cannot carry a fragment/);
    expect(() => explain(canarySet, 'GET', '/api/results#mrn=102782', [])).toThrow(/request target cannot carry a fragment/);
  });

  it('reads a repeated sticky header as the proxy does: copies that agree are the key, copies that differ are none', () => {
    const onNew = firstKey((k) => bucketOf('ficus', k) < 5_000);
    const other = firstKey((k) => k !== onNew);
    expect(explain(canarySet, 'GET', '/api/encounters', [`x-user-id:${onNew}`])).toMatchObject({ target: 'svc' });
    expect(explain(canarySet, 'GET', '/api/encounters', [`x-user-id:${onNew}`, `X-User-Id: ${onNew}`])).toMatchObject({ target: 'svc' });
    const e = explain(canarySet, 'GET', '/api/encounters', [`x-user-id:${other}`, `x-user-id:${onNew}`]);
    expect(e).toMatchObject({ rule: 'encounters-read', target: 'legacy' });
    expect(e.reason).toMatch(/no sticky key/);
  });
});
