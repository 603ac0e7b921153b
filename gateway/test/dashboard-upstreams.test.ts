/**
 * The dashboard's Upstreams panel, its pure part: health and circuit labels, since when, the
 * warnings of every upstream in one list; and, checked by the type checker, that the page's
 * types read what GET /api/upstreams serves (the page is built apart from the gateway and keeps
 * its own copy). The panel in a browser: dashboard-panels.browser.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { UpstreamsAnswer as Served } from '../src/admin/routes/upstream-routes.js';
import { clock, since } from '../dashboard/src/format.js';
import { allWarnings, circuitTone, healthLabel, ruleLabel, type UpstreamsAnswer as Read } from '../dashboard/src/upstreams.js';

// what the API serves is what the page reads, and the other way round (a field renamed or added on one side fails `npm run typecheck`)
export const served = (a: Served): Read => a;
export const read = (a: Read): Served => a;

const at = '2026-12-06T14:03:07.000Z';
const answer: Read = {
  scope: 'instance',
  note: "This gateway instance's view",
  instance: { hostname: 'gw-1', pid: 4242, startedAt: at },
  at,
  rules: { source: 'store', version: 7, state: 'ready' },
  upstreams: [
    { name: 'legacy', url: 'http://127.0.0.1:8000/', health: 'healthy', healthChecks: { enabled: true, intervalMs: 2000 }, circuit: { state: 'closed', since: at, reason: null }, lastError: null, rules: [], warnings: [] },
    {
      name: 'patient-service',
      url: 'http://127.0.0.1:8101/',
      health: 'unhealthy',
      healthChecks: { enabled: true, intervalMs: 2000 },
      circuit: { state: 'open', since: at, reason: 'health check failed: connect ECONNREFUSED 127.0.0.1:8101' },
      lastError: 'connect ECONNREFUSED 127.0.0.1:8101',
      rules: [{ id: 'patients-read', mode: 'new', role: 'target', percent: null, fallback: true, sends: true }],
      warnings: [{ rule: 'patients-read', mode: 'new', text: 'patients-read: new → patient-service, circuit open: safe requests answered by legacy (fallback), others 503' }],
    },
  ],
};

describe('the Upstreams panel', () => {
  it('labels health and circuit states, never by colour alone', () => {
    expect(healthLabel({ health: 'healthy', healthChecks: { enabled: true, intervalMs: 1 } })).toEqual({ text: 'healthy', tone: 'ok' });
    expect(healthLabel({ health: 'unhealthy', healthChecks: { enabled: true, intervalMs: 1 } })).toEqual({ text: 'unhealthy', tone: 'error' });
    expect(healthLabel({ health: 'unknown', healthChecks: { enabled: false, intervalMs: 1 } })).toEqual({ text: 'unknown (health checks off)', tone: 'muted' });
    expect(healthLabel({ health: 'unknown', healthChecks: { enabled: true, intervalMs: 1 } }).text).toBe('unknown (no verdict yet)');
    expect(['closed', 'half-open', 'open'].map((s) => circuitTone(s as 'closed'))).toEqual(['ok', 'warn', 'error']);
    expect(ruleLabel({ id: 'patients-write', mode: 'canary', percent: 12.5 })).toBe('patients-write (canary 12.5 %)');
    expect(ruleLabel({ id: 'patients-read', mode: 'new', percent: null })).toBe('patients-read (new)');
  });

  it('says since when as a time of day within a day, with the date after that', () => {
    const t = Date.parse(at);
    expect(since(at, t + 3_600_000)).toBe(clock(t));
    expect(since(at, t + 2 * 86_400_000)).toBe(new Date(t).toLocaleString());
  });

  it("lists every upstream's warnings with the state and time of the circuit they are about", () => {
    expect(allWarnings(answer)).toEqual([
      { upstream: 'patient-service', rule: 'patients-read', state: 'open', since: at, text: 'patients-read: new → patient-service, circuit open: safe requests answered by legacy (fallback), others 503' },
    ]);
  });
});
