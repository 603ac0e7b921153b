import { describe, expect, it } from 'vitest';
import type { RuleSet } from '@ficus/contracts';
import { Router } from '../routing/router.js';
import { ruleOnTarget, targetWarning, type UpstreamCondition } from './circuit-impact.js';
import { explain } from './explain.js';

const ruleSet: RuleSet = {
  upstreams: { legacy: { url: 'http://127.0.0.1:1' }, svc: { url: 'http://127.0.0.1:2' } },
  http: [
    { id: 'patients-read', match: { methods: ['GET'], path: '/api/patients/:mrn' }, mode: 'new', target: 'svc' },
    { id: 'patients-write', match: { methods: ['POST', 'PUT'], path: '/api/patients' }, mode: 'canary', percent: 12.5, target: 'svc', sticky: { header: 'x-user-id' } },
    { id: 'encounters-read', match: { methods: ['GET'], path: '/api/encounters' }, mode: 'new', target: 'svc', fallback: false },
    { id: 'results-read', match: { methods: ['GET'], path: '/api/results' }, mode: 'retired', target: 'svc' },
    { id: 'patients-search', match: { methods: ['GET'], path: '/api/patients' }, mode: 'shadow', target: 'svc' },
    { id: 'orders', match: { path: '/api/orders' }, mode: 'legacy', target: 'svc' },
    { id: 'zero', match: { path: '/api/zero' }, mode: 'canary', percent: 0, target: 'svc', sticky: { header: 'x-user-id' } },
    { id: 'legacy-default', match: { path: '/**' }, mode: 'legacy' },
  ],
};
const rules = new Router(ruleSet).byId;
const warn = (id: string, u: Partial<UpstreamCondition>) => targetWarning(ruleOnTarget(rules.get(id)!), { name: 'svc', circuit: 'open', health: 'unhealthy', ...u });

describe('what an open circuit does to the rules that target the upstream, in words', () => {
  it('says what the proxy does: safe requests fall back to legacy where the rule allows it, the others get 503', () => {
    expect(warn('patients-read', {})).toBe('patients-read: new → svc, circuit open: safe requests answered by legacy (fallback), others 503');
    expect(warn('encounters-read', {})).toBe('encounters-read: new → svc, circuit open: every request 503 (fallback off)');
    expect(warn('results-read', {})).toBe('results-read: retired → svc, circuit open: every request 503 (retired: legacy is never called)');
    expect(warn('patients-write', {})).toBe(
      'patients-write: canary 12.5 % → svc, circuit open: every request 503 (only GET, HEAD, OPTIONS fall back to legacy); the other 87.5 % of keys stay on legacy',
    );
    expect(warn('patients-search', {})).toBe('patients-search: shadow → svc, circuit open: legacy answers as always; no shadow copies are sent (nothing compared)');
  });

  it('says so for a half-open circuit and for failing checks under a closed one', () => {
    expect(warn('patients-read', { circuit: 'half-open' })).toBe('patients-read: new → svc, circuit half-open: one trial request at a time goes through; safe requests answered by legacy (fallback), others 503');
    expect(warn('patients-read', { circuit: 'closed' })).toBe(
      'patients-read: new → svc, health checks failing, circuit still closed: requests still sent to it; a safe one that fails is answered by legacy (fallback), others 502/504',
    );
    expect(warn('patients-search', { circuit: 'half-open', health: 'healthy' })).toBe('patients-search: shadow → svc, circuit half-open: legacy answers as always; shadow copies may fail');
  });

  it('warns of nothing for a target in good order, a rule in mode legacy or a canary at 0 %', () => {
    expect(warn('patients-read', { circuit: 'closed', health: 'healthy' })).toBeNull();
    expect(warn('patients-read', { circuit: 'closed', health: 'unknown' })).toBeNull();
    expect(warn('orders', {})).toBeNull();
    expect(warn('zero', {})).toBeNull();
  });

  it('agrees with explain for one request: the same rule, the same fallback', () => {
    const open = (name: string) => (name === 'svc' ? 'open' : 'closed');
    expect(explain(ruleSet, 'GET', '/api/patients/100042', [], open).reason).toMatch(/but the circuit of svc is open on this instance: legacy answers \(fallback\)$/);
    expect(explain(ruleSet, 'GET', '/api/encounters', [], open).reason).toMatch(/the request gets 503$/);
    expect(explain(ruleSet, 'GET', '/api/results', [], open).reason).toMatch(/the request gets 503$/);
  });
});
