/**
 * `ficus rules list`, `show` and `explain` while the gateway's emergency override file holds a
 * rule in legacy, found by hand on the demo: the rule was flipped to new, the file named it, the
 * gateway answered `legacy (emergency)`, and both commands said mode new, target patient-service,
 * with nothing about the file. An on-call engineer reads them to learn where writes go.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../../test-support/until.js';
import { parse, routeOf, startScene, type Scene } from './support/cli-scene.js';

let s: Scene;

beforeAll(async () => {
  s = await startScene('cli_rules_emergency');
});
afterAll(async () => {
  await s?.close();
});

describe('ficus rules while the emergency override file holds a rule', () => {
  it('list and show mark the held rule and name the file; explain says the request goes to legacy', async () => {
    const flip = await s.ficus(['rules', 'flip', 'patients-write', '--mode', 'new', '--reason', 'the service holds the record']);
    expect(flip.code, flip.stderr).toBe(0);
    const file = path.join(s.gw.stateDir, 'emergency-legacy.yaml');
    writeFileSync(file, 'rules: [patients-write, patients-read]\nreason: patient-service loses writes\nby: j.doe\n');
    try {
      const since = (await until(async () => (await s.admin.get<{ emergency?: { since: string } }>('/api/rules')).body.emergency, 'the override applied', 10_000)).since;
      // what the gateway really does with such a request
      const put = await fetch(`${s.gw.url}/api/patients/123`, { method: 'PUT', body: '{}', headers: { 'content-type': 'application/json' } });
      await put.arrayBuffer();
      expect(put.headers.get('x-ficus-route')).toBe('patients-write; legacy (emergency)');

      const [list, explain, explainJson, show, showJson, showOther] = await Promise.all([
        s.ficus(['rules', 'list']),
        s.ficus(['rules', 'explain', 'PUT', '/api/patients/123']),
        s.ficus(['rules', 'explain', 'PUT', '/api/patients/123', '--json']),
        s.ficus(['rules', 'show', 'patients-write']),
        s.ficus(['rules', 'show', 'patients-write', '--json']),
        s.ficus(['rules', 'show', 'legacy-default']),
      ]);
      for (const r of [list, explain, explainJson, show, showJson, showOther]) expect(r.code, r.stderr).toBe(0);
      // show as list: the file and the mode served, as comments above the rule's YAML (before: the YAML alone, mode new)
      expect(show.stdout).toMatch(
        new RegExp(
          `^# rule #2 of rule set version \\d+\n# EMERGENCY OVERRIDE: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} in force on this gateway instance since ${since} by j\\.doe: patient-service loses writes; served from legacy whatever their stored mode: patients-read, patients-write\n# served as: new → legacy \\(emergency\\)\nid: patients-write\n`,
        ),
      );
      expect(show.stdout).toMatch(/^mode: new$/m);
      expect(parse(showJson)).toMatchObject({ rule: { id: 'patients-write', mode: 'new' }, emergency: { file, pinned: ['patients-read', 'patients-write'], by: 'j.doe' } });
      // a rule the file does not hold is shown as before
      expect(showOther.stdout).not.toContain('EMERGENCY');
      expect(showOther.stdout).not.toContain('(emergency)');
      expect(list.stdout).toContain(
        `EMERGENCY OVERRIDE: ${file} in force on this gateway instance since ${since} by j.doe: patient-service loses writes; served from legacy whatever their stored mode: patients-read, patients-write\n`,
      );
      expect(list.stdout).toMatch(/^2\s+patients-write\s+POST,PUT .*\s+new → legacy \(emergency\)\s+-\s+patient-service/m);
      // already in legacy: held there, without a mode to go from
      expect(list.stdout).toMatch(/^1\s+patients-read\s+GET \S+\s+legacy \(emergency\)\s+-\s+patient-service/m);

      expect(explain.stdout).toMatch(/^mode:\s+new$/m);
      expect(explain.stdout).toMatch(/^target:\s+legacy$/m);
      expect(explain.stdout).toMatch(new RegExp(`^reason:\\s+rule "patients-write" \\(#2\\) matches PUT .*; mode new, but the emergency override file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} on this instance holds it in legacy: every request goes to legacy \\(x-ficus-route: patients-write; legacy \\(emergency\\)\\) until the file is removed$`, 'm'));
      expect(parse(explainJson)).toMatchObject({ rule: 'patients-write', mode: 'new', target: 'legacy', emergency: true });
      const read = await s.ficus(['rules', 'explain', 'GET', '/api/patients/123', '--json']);
      expect(parse(read)).toMatchObject({ rule: 'patients-read', mode: 'legacy', target: 'legacy', emergency: true, reason: expect.stringContaining('; mode legacy, and the emergency override file') });
    } finally {
      rmSync(file, { force: true });
    }
    await until(async () => !(await s.admin.get<{ emergency?: unknown }>('/api/rules')).body.emergency, 'the override removed', 10_000);
    expect(await routeOf(s.gw.url, '/api/patients/123', 'patients-read; legacy')).toBe('patients-read; legacy');
    const [list, explain, show] = await Promise.all([s.ficus(['rules', 'list']), s.ficus(['rules', 'explain', 'PUT', '/api/patients/123', '--json']), s.ficus(['rules', 'show', 'patients-write', '--json'])]);
    expect(list.stdout).not.toContain('EMERGENCY');
    expect(parse(show)).not.toHaveProperty('emergency');
    expect(list.stdout).toMatch(/^2\s+patients-write\s+POST,PUT .*\s+new\s+-\s+patient-service/m);
    expect(parse(explain)).toEqual(expect.objectContaining({ target: 'patient-service' }));
    expect(parse(explain)).not.toHaveProperty('emergency');
  });
});
