import { describe, expect, it } from 'vitest';
import type { HttpRule, RuleSet } from '@ficus/contracts';
import { weakenedGates } from './gate-weakening.js';
import { evidenceMinutes, gatedMoves } from './parity-gate.js';

const parity = { threshold: 0.95, minCompared: 10, window: '1h' };
const rule = (over: Partial<HttpRule>): HttpRule => ({ id: 'patients-read', match: { path: '/api/patients/:mrn' }, mode: 'shadow', target: 'patient-service', parity, ...over }) as HttpRule;
const set = (...http: HttpRule[]): RuleSet => ({ upstreams: {}, http });

const MINUTE = 60_000;
const now = 1_000 * MINUTE + 30_000;
const at = (minutesAgo: number) => new Date(now - minutesAgo * MINUTE).toISOString();

describe('gatedMoves', () => {
  it('gates a move to another target as one from no exposure: new to new, and a flip out of shadow naming another target', () => {
    const atNew = set(rule({ mode: 'new' }));
    expect(gatedMoves(atNew, set(rule({ mode: 'new', target: 'results-service' })))).toMatchObject([{ rule: 'patients-read', move: 'to new (target patient-service → results-service)', target: 'results-service' }]);
    expect(gatedMoves(set(rule({})), set(rule({ mode: 'new', target: 'results-service' })))).toMatchObject([{ move: 'to new (target patient-service → results-service)' }]);
    expect(gatedMoves(set(rule({ mode: 'canary', percent: 5 })), set(rule({ mode: 'canary', percent: 5, target: 'results-service', parity: { ...parity, gateAbovePercent: 1 } })))).toMatchObject([{ move: 'canary 5 % (gated above 1 %) (target patient-service → results-service)' }]);
    // the same target, as before: no more exposure, no gate
    expect(gatedMoves(atNew, atNew)).toEqual([]);
    // a shadow copy to another target sends no patient there
    expect(gatedMoves(set(rule({})), set(rule({ target: 'results-service' })))).toEqual([]);
  });
});

describe('evidenceMinutes', () => {
  const version = (minutesAgo: number, target: string) => ({ createdAt: at(minutesAgo), ruleSet: set(rule({ target })) });

  it('is the whole window while the rule compared against the target throughout', () => {
    expect(evidenceMinutes([version(120, 'patient-service')], 'patients-read', 'patient-service', 60, now)).toBeUndefined();
  });

  it('is nothing for a target the rule never compared against', () => {
    expect(evidenceMinutes([version(30, 'patient-service'), version(120, 'patient-service')], 'patients-read', 'results-service', 60, now)).toEqual([]);
  });

  it('counts only the minutes spent on the target, without the minute of a change of target and the one after', () => {
    // results-service from 90 min ago, patient-service from 40 min ago, results-service again from 10 min ago
    const history = [version(10, 'results-service'), version(40, 'patient-service'), version(90, 'results-service')];
    const current = Math.floor(now / MINUTE);
    expect(evidenceMinutes(history, 'patients-read', 'results-service', 60, now)).toEqual([
      { from: current - 59, to: current - 41 },
      { from: current - 8, to: current },
    ]);
    expect(evidenceMinutes(history, 'patients-read', 'patient-service', 60, now)).toEqual([{ from: current - 38, to: current - 11 }]);
  });
});

describe('weakenedGates', () => {
  it('names a gate removed, with its rule or alone, and one loosened; a stricter one is no concern', () => {
    const gated = set(rule({ parity: { ...parity, gateAbovePercent: 10 } }));
    expect(weakenedGates(gated, set(rule({ parity: undefined })))).toMatchObject([{ rule: 'patients-read', what: 'gate removed' }]);
    expect(weakenedGates(gated, set())).toMatchObject([{ rule: 'patients-read', what: 'rule removed, with its gate' }]);
    expect(weakenedGates(gated, set(rule({ parity: { threshold: 0.9, minCompared: 5, window: '7d' } })))).toEqual([
      {
        rule: 'patients-read',
        from: { threshold: 0.95, minCompared: 10, window: '1h', gateAbovePercent: 10 },
        to: { threshold: 0.9, minCompared: 5, window: '7d' },
        what: 'threshold 0.95 → 0.9, minCompared 10 → 5, window 1h → 7d, gateAbovePercent 10 → none (any canary ungated)',
      },
    ]);
    expect(weakenedGates(gated, set(rule({ parity: { threshold: 0.99, minCompared: 100, window: '1h', gateAbovePercent: 5 } })))).toEqual([]);
    expect(weakenedGates(set(rule({ parity: undefined })), gated)).toEqual([]);
    // fewer keys asked for, the requests as they were: loosened too
    expect(weakenedGates(set(rule({ parity: { ...parity, minKeys: 10 } })), set(rule({ parity: { ...parity, minKeys: 3 } })))).toMatchObject([{ rule: 'patients-read', what: 'minKeys 10 → 3' }]);
  });
});
