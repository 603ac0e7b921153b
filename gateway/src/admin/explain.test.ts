import { describe, expect, it } from 'vitest';
import type { RuleSet } from '@ficus/contracts';
import { explain } from './explain.js';

const ruleSet: RuleSet = {
  upstreams: { legacy: { url: 'http://127.0.0.1:1' }, svc: { url: 'http://127.0.0.1:2' } },
  http: [
    { id: 'patients-read', match: { methods: ['GET'], path: '/api/patients/:mrn' }, mode: 'retired', target: 'svc' },
    { id: 'legacy-default', match: { path: '/**' }, mode: 'legacy' },
  ],
};

describe('explain', () => {
  it('reads the path as the proxy does: slashes merged, path parameters left out', () => {
    expect(explain(ruleSet, 'get', '/api//patients;jsessionid=1/100042', [])).toMatchObject({ rule: 'patients-read', target: 'svc' });
  });

  it('follows the gateway: literal segments regardless of case only when it is so configured', () => {
    expect(explain(ruleSet, 'GET', '/API/Patients/100042', [])).toMatchObject({ rule: 'legacy-default', target: 'legacy' });
    expect(explain(ruleSet, 'GET', '/API/Patients/100042', [], undefined, { caseInsensitivePaths: true })).toMatchObject({ rule: 'patients-read', target: 'svc' });
  });

  it('follows the gateway: escaped slashes as FICUS_ENCODED_SLASHES reads them', () => {
    expect(explain(ruleSet, 'GET', '/api%2Fpatients%2F100042', [])).toMatchObject({ rule: 'legacy-default', target: 'legacy' });
    expect(explain(ruleSet, 'GET', '/api%2Fpatients%2F100042', [], undefined, { encodedSlashes: 'decode' })).toMatchObject({ rule: 'patients-read', target: 'svc' });
    expect(() => explain(ruleSet, 'GET', '/api%2Fpatients%2F100042', [], undefined, { encodedSlashes: 'refuse' })).toThrow(/escaped slash/);
  });

  it('says that TRACE and CONNECT never reach a rule: the proxy answers them 501 itself', () => {
    for (const method of ['TRACE', 'trace', 'CONNECT']) {
      const e = explain(ruleSet, method, '/api/patients/100042', []);
      expect(e).toMatchObject({ rule: null, mode: null, target: null });
      expect(e.reason).toMatch(new RegExp(`^the gateway answers ${method.toUpperCase()} itself with 501`));
    }
  });
});
