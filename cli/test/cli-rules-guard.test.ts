/**
 * `ficus rules validate | import` of a folder that drops routing the current rules have: the
 * probe's `export`, `rm 10-http.yaml`, `import` applied a version that answered every request
 * 404. Now validate calls it invalid, import sends nothing, and `--allow-removal` (an admin's
 * decision) applies it on the record.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, startScene, type Scene } from './support/cli-scene.js';

let s: Scene;

beforeAll(async () => {
  s = await startScene('cli_rules_guard');
});
afterAll(async () => {
  await s?.close();
});

const currentVersion = async () => (await s.admin.get<{ current: number }>('/api/versions?limit=1')).body.current;
const NO_HTTP = 'the change leaves no HTTP rules (3 serve now): every request would get 404';
const ALLOW = 'an admin applies it with `ficus rules import --allow-removal`';

describe('ficus rules: a folder that drops routing', () => {
  it('calls a folder without its HTTP rules invalid, and import sends nothing', async () => {
    const dir = path.join(s.dir, 'export');
    expect((await s.ficus(['rules', 'export', dir])).code).toBe(0);
    rmSync(path.join(dir, '10-http.yaml'));
    const [validate, imported] = await Promise.all([s.ficus(['rules', 'validate', dir]), s.ficus(['rules', 'import', dir, '--reason', 'r'])]);
    expect(validate.code).toBe(1);
    expect(validate.stdout).toContain(`/http: ${NO_HTTP}`);
    expect(validate.stdout).toContain('invalid, 1 error');
    expect(validate.stderr).toContain('compared with the current rule set, version 1');
    expect(validate.stderr).toContain(ALLOW);
    expect(imported.code).toBe(1);
    expect(imported.stderr).toContain('is invalid; nothing was sent');
    expect(imported.stderr).toContain(NO_HTTP);
    expect(imported.stderr).toContain(ALLOW);
    expect(await currentVersion()).toBe(1);
  });

  it('points at the catch-all a folder narrows, and applies a removal only with --allow-removal', async () => {
    const dir = path.join(s.dir, 'narrowed');
    expect((await s.ficus(['rules', 'export', dir])).code).toBe(0);
    const file = path.join(dir, '10-http.yaml');
    const http = readFileSync(file, 'utf8');
    writeFileSync(file, http.replace('match: {path: /**}', 'match: {methods: [GET], path: /**}'));
    const narrowed = await s.ficus(['rules', 'import', dir, '--reason', 'half a file']);
    expect(narrowed.code).toBe(1);
    expect(narrowed.stderr).toMatch(/10-http\.yaml:17:5: rule "legacy-default": no longer takes every request, but it is the catch-all \("\/\*\*" for every method\) that serves now/);

    writeFileSync(file, http.slice(0, http.indexOf('  - id: legacy-default')));
    const allowed = await s.ficus(['rules', 'import', dir, '--reason', 'the legacy system is gone', '--allow-removal', '--json']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stderr).toContain('warning: /http: rule "legacy-default": the change removes the catch-all');
    expect(parse(allowed)).toMatchObject({ version: 2, changed: true, change: { kind: 'import', removedRouting: ['rule "legacy-default": the change removes the catch-all ("/**" for every method) that serves now: requests no other rule takes would get 404'] } });
  });

  it('refuses a rollback to a version without the catch-all unless --allow-removal', async () => {
    expect((await s.ficus(['rules', 'rollback', '1', '--reason', 'catch-all back'])).code).toBe(0);
    const refused = await s.ficus(['rules', 'rollback', '2', '--reason', 'again']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('refused (422)');
    expect(refused.stderr).toContain('the change removes the catch-all');
    expect(refused.stderr).toContain('`ficus rules rollback --allow-removal`');
    const allowed = await s.ficus(['rules', 'rollback', '2', '--reason', 'again, on purpose', '--allow-removal']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.stdout).toContain('routing removed, allowed by an admin');
    expect(await currentVersion()).toBe(4);
  });
});
