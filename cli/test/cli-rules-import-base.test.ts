/**
 * `ficus rules import` of an export starts from the version the export was made from: the
 * probe flipped a rule to new, exported, edited a timeout, another operator flipped the rule
 * back to legacy in an incident, and the import of the old export put it in mode new again,
 * exit 0. Now it is refused (409) naming the changes since the export, unless the operator
 * passes --base with the current version (on the record); hand-written files (no export
 * header) start from the current version, their summary naming every rule whose mode moves.
 */
import { readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, startScene, type Scene } from './support/cli-scene.js';

let s: Scene;

beforeAll(async () => {
  s = await startScene('cli_rules_import_base');
});
afterAll(async () => {
  await s?.close();
});

const modeOf = async (rule: string) => (await s.admin.get<{ rule: { mode: string } }>(`/api/rules/${rule}`)).body.rule.mode;
const currentVersion = async () => (await s.admin.get<{ current: number }>('/api/versions?limit=1')).body.current;

describe('ficus rules import of an older export', () => {
  const dir = () => path.join(s.dir, 'export');

  it('is refused with 409, naming every change made since the export, and changes nothing', async () => {
    expect((await s.ficus(['rules', 'flip', 'patients-read', '--mode', 'new', '--reason', 'pilot done'])).code).toBe(0); // v2
    const exported = await s.ficus(['rules', 'export', dir()]);
    expect(exported.stdout).toContain('version 2 written');
    const upstreams = path.join(dir(), '00-upstreams.yaml');
    writeFileSync(upstreams, readFileSync(upstreams, 'utf8').replace('timeoutMs: 300', 'timeoutMs: 400'));
    expect((await s.ficus(['rules', 'flip', 'patients-write', '--mode', 'new', '--reason', 'writes too'])).code).toBe(0); // v3
    expect((await s.ficus(['rules', 'flip', 'patients-read', '--mode', 'legacy', '--reason', 'INCIDENT: wrong charts on ward 7'])).code).toBe(0); // v4

    const [human, json] = await Promise.all([
      s.ficus(['rules', 'import', dir(), '--reason', 'timeout only']),
      s.ficus(['rules', 'import', dir(), '--reason', 'timeout only', '--json']),
    ]);
    expect(human.code).toBe(1);
    expect(human.stdout).toBe('');
    expect(human.stderr).toContain('refused (409): Someone changed the rules first: the change starts from version 2, but the current version is 4; changed since version 2: rule "patients-read", rule "patients-write"');
    expect(human.stderr).toMatch(/version 3, by token:first-admin at \S+: "writes too" \(patients-write: legacy → new \(patient-service\)\)/);
    expect(human.stderr).toMatch(/version 4 \(current\), by token:first-admin at \S+: "INCIDENT: wrong charts on ward 7" \(patients-read: new \(patient-service\) → legacy\)/);
    expect(human.stderr).toContain('was exported from version 2: importing it would undo those changes');
    expect(human.stderr).toContain('pass --base 4');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stderr)).toMatchObject({
      status: 409,
      baseVersion: 2,
      currentVersion: 4,
      rulesChanged: ['patients-read', 'patients-write'],
      changesSince: [
        { version: 3, reason: 'writes too' },
        { version: 4, reason: 'INCIDENT: wrong charts on ward 7', author: 'token:first-admin' },
      ],
    });
    expect(await currentVersion()).toBe(4);
    expect(await modeOf('patients-read')).toBe('legacy');
  });

  it('applies it over the current version when --base says so, and the version records that', async () => {
    const r = await s.ficus(['rules', 'import', dir(), '--reason', 'the pilot goes on: incident closed', '--base', '4', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const answer = parse<{ version: number; change: { summary: string; exportedFrom?: number } }>(r);
    expect(answer.version).toBe(5);
    expect(answer.change.exportedFrom).toBe(2);
    expect(answer.change.summary).toContain('patients-read: legacy → new (patient-service)');
    expect(answer.change.summary).toContain('patients-write: new (patient-service) → legacy');
    expect(answer.change.summary).toContain('(files exported from version 2, applied over version 4)');
    expect(await modeOf('patients-read')).toBe('new');
  });

  it('starts hand-written files (no export header) from the current version, naming every rule whose mode moves', async () => {
    const hand = path.join(s.dir, 'hand');
    mkdirSync(hand);
    for (const f of readdirSync(dir())) {
      const text = readFileSync(path.join(dir(), f), 'utf8').replace(/^#.*\n/gm, '');
      writeFileSync(path.join(hand, f), text.replace(/(- id: patients-read\n(?: {4}.*\n)*? {4}mode: )new/, '$1legacy').replace(/(- id: patients-write\n(?: {4}.*\n)*? {4}mode: )legacy/, '$1new'));
    }
    const r = await s.ficus(['rules', 'import', hand, '--reason', 'hand-written']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('version 6: changed patients-read, patients-write (patients-read: new (patient-service) → legacy; patients-write: legacy → new (patient-service)) (from version 5)');
  });
});
