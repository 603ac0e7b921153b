/**
 * The dashboard's flip and rollback dialogs, their pure part: the canary percent as typed (an
 * emptied field used to flip to canary 0 %), and what the admin API's refusals say to the
 * operator (a stale version with who got there first; a closed gate pointing at the dialog's
 * force checkbox, not at `"force": true`). The dialogs themselves: dashboard.browser.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parsePercent } from '../dashboard/src/percent.js';
import { gateRefusal, staleVersion } from '../dashboard/src/refusals.js';

describe('the canary percent of the flip dialog', () => {
  it.each([
    ['0', 0],
    ['5', 5],
    ['100', 100],
    ['12.5', 12.5],
    ['12.34', 12.34],
    ['0.01', 0.01],
    [' 30 ', 30],
    ['12.340', 12.34],
    ['.5', 0.5],
    ['-0', 0],
  ])('takes %j as %d', (text, value) => {
    expect(parsePercent(text)).toEqual({ ok: true, value });
  });

  it.each([
    ['', /^Enter the percent/],
    ['   ', /^Enter the percent/],
    ['150', /^150 is out of range: the percent goes from 0 to 100/],
    ['100.01', /out of range/],
    ['-1', /^-1 is out of range/],
    ['12.345', /^12\.345 has more than two decimals: the admin API takes the percent in steps of 0\.01/],
    ['0.001', /more than two decimals/],
    ['1e1', /is not a number/],
    ['0x10', /is not a number/],
    ['12,5', /is not a number: enter 0 to 100, with a point for decimals/],
    ['ten', /is not a number/],
    ['Infinity', /is not a number/],
  ])('refuses %j, saying why', (text, why) => {
    const r = parsePercent(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(why);
  });
});

describe("the admin API's refusals, as the dialogs say them", () => {
  const stale = {
    type: 'https://ficus.dev/problems/stale-version',
    title: 'Someone changed the rules first',
    status: 409,
    detail: 'the change starts from version 19, but the current version is 20',
    baseVersion: 19,
    currentVersion: 20,
    current: { version: 20, author: 'token:cli-admin', createdAt: '2026-12-02T10:00:01.000Z', reason: 'pilot 5 %', summary: 'patients-search: legacy → canary 5 % to patient-service' },
  };

  it('reads a stale version with the change that got there first', () => {
    expect(staleVersion(409, stale)).toEqual({
      opened: 19,
      current: 20,
      latest: { version: 20, author: 'token:cli-admin', createdAt: '2026-12-02T10:00:01.000Z', reason: 'pilot 5 %', summary: 'patients-search: legacy → canary 5 % to patient-service' },
    });
    const { current: _, ...anonymous } = stale;
    expect(staleVersion(409, anonymous)).toEqual({ opened: 19, current: 20 });
  });

  it('does not take other conflicts for a stale version', () => {
    expect(staleVersion(409, { type: 'https://ficus.dev/problems/replay-unsafe', title: 'Replay could bring deleted rows back' })).toBeNull();
    expect(staleVersion(422, stale)).toBeNull();
  });

  const gate = {
    type: 'https://ficus.dev/problems/parity-gate',
    title: 'Parity gate closed: not enough evidence that the new service answers like legacy',
    status: 422,
    detail: 'rule "patients-read" to new: parity 0.7500 over 8 compared requests in the last 1h; the gate needs parity ≥ 0.99 over ≥ 5 compared requests. An admin may force it with "force": true and a reason (audited).',
    gates: [{ rule: 'patients-read', move: 'to new', parity: 0.75, compared: 8, mismatches: 2, threshold: 0.99, minCompared: 5, window: '1h', open: false }],
  };

  it('points an admin at the force checkbox, not at the JSON field', () => {
    const text = gateRefusal(gate, true)!;
    expect(text).toBe(
      'Parity gate closed: not enough evidence that the new service answers like legacy: rule "patients-read" to new: parity 0.7500 over 8 compared requests in the last 1h; the gate needs parity ≥ 0.99 over ≥ 5 compared requests. To go past it, tick "Force past a closed parity gate" above and confirm again (audited as forced).',
    );
    expect(text).not.toContain('"force": true');
  });

  it('tells an operator that only an admin can force it', () => {
    const text = gateRefusal(gate, false)!;
    expect(text).toMatch(/Only an admin can force a change past a closed gate\.$/);
    expect(text).not.toContain('"force"');
    expect(text).not.toContain('tick');
  });

  it('falls back to the detail, without the JSON hint, when the figures are missing', () => {
    const { gates: _, ...bare } = gate;
    const text = gateRefusal(bare, false)!;
    expect(text).toContain('parity 0.7500 over 8 compared requests');
    expect(text).not.toContain('"force"');
    expect(gateRefusal({ type: 'https://ficus.dev/problems/invalid-rule-set', title: 'invalid' }, true)).toBeNull();
  });
});
