/**
 * `ficus rules ...` as a real process against a real gateway on a real rule store: reading,
 * explaining, flipping (and the gateway routing differently afterwards), stale changes,
 * versions, diffs, rollback, local validation, import and export.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, parse, routeOf, startScene, type Scene } from './support/cli-scene.js';

let s: Scene;

beforeAll(async () => {
  s = await startScene('cli_rules');
});
afterAll(async () => {
  await s?.close();
});

const currentVersion = async () => (await s.admin.get<{ current: number }>('/api/versions?limit=1')).body.current;

describe('ficus rules: reading', () => {
  it('lists, shows and explains, as tables and as the API\'s JSON', async () => {
    const [list, listJson, show, showJson, explain, explainJson] = await Promise.all([
      s.ficus(['rules', 'list']),
      s.ficus(['rules', 'list', '--json']),
      s.ficus(['rules', 'show', 'patients-read']),
      s.ficus(['--json', 'rules', 'show', 'patients-read']),
      s.ficus(['rules', 'explain', 'GET', '/api/patients/123', '--header', 'x-ward:7']),
      s.ficus(['rules', 'explain', 'GET', '/api/patients/123', '--header', 'x-ward:7', '--json']),
    ]);
    for (const r of [list, listJson, show, showJson, explain, explainJson]) expect(r.code, r.stderr).toBe(0);

    expect(list.stdout).toMatch(/^rule set version 1, by seed/);
    expect(list.stdout).toMatch(/^1\s+patients-read\s+GET \/api\/patients\/:mrn\s+legacy\s+-\s+patient-service\s+param mrn$/m);
    expect(list.stdout).toMatch(/^3\s+legacy-default\s+\* \/\*\*\s+legacy/m);
    expect(list.stdout).toMatch(/^patient-service\s+http:\/\/127\.0\.0\.1:\d+$/m);
    expect(parse(listJson)).toEqual((await s.admin.get('/api/rules')).body);

    expect(show.stdout).toContain('# rule #1 of rule set version 1');
    expect(show.stdout).toContain('match: {methods: [GET], path: /api/patients/:mrn}');
    expect(parse(showJson)).toEqual((await s.admin.get('/api/rules/patients-read')).body);

    expect(explain.stdout).toMatch(/^rule:\s+patients-read$/m);
    expect(explain.stdout).toMatch(/^mode:\s+legacy$/m);
    expect(explain.stdout).toMatch(/^target:\s+legacy$/m);
    expect(explain.stdout).toMatch(/^reason:\s+rule "patients-read" \(#1\) matches GET .*mode legacy/m);
    expect(parse(explainJson)).toEqual((await s.admin.get('/api/explain?method=GET&path=/api/patients/123&header=x-ward:7')).body);
  });

  it('explains a lowercase method as the gateway takes it: refused (it answers `get` with 400), not as GET', async () => {
    const r = await s.ficus(['rules', 'explain', 'get', '/api/patients/123']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('refused (400)');
    expect(r.stderr).toContain('"get" is not a method the gateway takes: methods are case-sensitive');
    expect(r.stdout).toBe('');
  });

  it('answers 404 for an unknown rule with exit 1', async () => {
    const r = await s.ficus(['rules', 'show', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('refused (404): No such rule: no rule "nope"');
    expect(r.stdout).toBe('');
  });
});

describe('ficus rules: changes', () => {
  it('flips a rule from the current version, and the gateway routes to the new service', async () => {
    const r = await s.ficus(['rules', 'flip', 'patients-read', '--mode', 'canary', '--percent', '100', '--reason', 'pilot on ward 7']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('version 2: patients-read: legacy → canary 100 % to patient-service (from version 1)');
    expect(await routeOf(s.gw.url, '/api/patients/100001', 'patients-read; patient-service')).toBe('patients-read; patient-service');

    // the same flip again (a second click, a re-run script) says so and makes no version
    const again = await s.ficus(['rules', 'flip', 'patients-read', '--mode', 'canary', '--percent', '100', '--reason', 'pilot on ward 7, again']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim()).toBe('no change: rule "patients-read" is already canary 100 % to patient-service (version 2 stays)');
    expect(await currentVersion()).toBe(2);
  });

  it('refuses a change from a stale --base with exit 1, naming the current version and who made it', async () => {
    const [human, json] = await Promise.all([
      s.ficus(['rules', 'flip', 'patients-read', '--mode', 'legacy', '--reason', 'late', '--base', '1']),
      s.ficus(['rules', 'flip', 'patients-read', '--mode', 'legacy', '--reason', 'late too', '--base', '1', '--json']),
    ]);
    expect(human.code).toBe(1);
    expect(human.stderr).toContain('refused (409): Someone changed the rules first: the change starts from version 1, but the current version is 2');
    expect(human.stderr).toContain('current version: 2, by token:first-admin');
    expect(human.stderr).toContain('"pilot on ward 7"');
    expect(json.code).toBe(1);
    expect(json.stdout).toBe('');
    expect(JSON.parse(json.stderr)).toMatchObject({ status: 409, type: 'https://ficus.dev/problems/stale-version', baseVersion: 1, currentVersion: 2 });
    expect(await currentVersion()).toBe(2);
  });

  it('shows the versions and what changed between two', async () => {
    const [versions, versionsJson, diff, diffJson, same] = await Promise.all([
      s.ficus(['rules', 'versions']),
      s.ficus(['rules', 'versions', '--json', '--limit', '1']),
      s.ficus(['rules', 'diff', '1', '2']),
      s.ficus(['rules', 'diff', '1', '2', '--json']),
      s.ficus(['rules', 'diff', '2', '2']),
    ]);
    expect(versions.stdout).toMatch(/^VERSION\s+CREATED\s+AUTHOR\s+KIND\s+SUMMARY\s+REASON$/m);
    expect(versions.stdout).toMatch(/^2 \*\s+\S+\s+token:first-admin\s+flip\s+patients-read: legacy → canary 100 % to patient-service\s+pilot on ward 7$/m);
    expect(versions.stdout).toMatch(/^1\s+\S+\s+seed\s+seed/m);
    expect(parse(versionsJson)).toEqual((await s.admin.get('/api/versions?limit=1')).body);
    expect(diff.stdout).toBe('from version 1 to version 2:\n  ~ rule patients-read\n    mode: "legacy" → "canary"\n    percent: (none) → 100\n');
    expect(parse(diffJson)).toEqual((await s.admin.get('/api/versions/1/diff/2')).body);
    expect(same.stdout).toBe('versions 2 and 2 route the same\n');
  });

  it('rolls back to an earlier version, and the gateway follows', async () => {
    const r = await s.ficus(['rules', 'rollback', '1', '--reason', 'pilot over']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('version 3: rollback to version 1: patients-read: canary 100 % to patient-service → legacy (from version 2)');
    expect(await routeOf(s.gw.url, '/api/patients/100001', 'patients-read; legacy')).toBe('patients-read; legacy');
  });
});

describe('ficus rules: help', () => {
  it('names every mode a flip takes, every file an export writes, and --force for a rollback as for a flip', async () => {
    const [flip, exportHelp, rollback] = await Promise.all([s.ficus(['rules', 'flip', '--help']), s.ficus(['rules', 'export', '--help']), s.ficus(['rules', 'rollback', '--help'])]);
    const text = (r: { stdout: string }) => r.stdout.replace(/\s+/g, ' ');
    expect(text(flip)).toContain('the new mode: legacy, shadow, canary, new, retired for an HTTP rule; legacy, dual, new for an HL7 rule');
    expect(text(exportHelp)).toContain('write the current rule set as 00-upstreams.yaml, 10-http.yaml and (when it has HL7 rules) 20-hl7.yaml into a folder');
    const forceOf = (r: { stdout: string }) => /--force\s+(.*?)(?=\s+(?:-h, )?--|$)/s.exec(r.stdout)?.[1]?.replace(/\s+/g, ' ');
    expect(forceOf(rollback)).toBe('go past a closed parity gate (role admin; the reason says why, and the audit log marks it as forced)');
    expect(forceOf(rollback)).toBe(forceOf(flip));
  });
});

describe('ficus rules: files', () => {
  const httpOnly = `http:
  - id: patients-read
    match: { methods: [GET], path: /api/patients/:mrn }
    mode: canary
    percent: 10
    target: patient-service
    sticky: { param: mrn }
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`;
  const invalid = `http:
  - id: patients-read
    match: { methods: [GET], path: /api/patients/:mrn }
    mode: canery
    target: patient-service
`;

  it('validates a file locally: against the current upstreams, with file:line:column, and alone when the API is out of reach', async () => {
    writeFileSync(path.join(s.dir, 'http-only.yaml'), httpOnly);
    writeFileSync(path.join(s.dir, 'invalid.yaml'), invalid);
    const [valid, bad, badJson, alone] = await Promise.all([
      s.ficus(['rules', 'validate', 'http-only.yaml'], { cwd: s.dir }),
      s.ficus(['rules', 'validate', 'invalid.yaml'], { cwd: s.dir }),
      s.ficus(['rules', 'validate', path.join(s.dir, 'invalid.yaml'), '--json']),
      s.ficus(['rules', 'validate', 'http-only.yaml'], { cwd: s.dir, env: { FICUS_ADMIN_URL: 'http://127.0.0.1:1' } }),
    ]);
    expect(valid.code, valid.stdout + valid.stderr).toBe(0);
    expect(valid.stdout).toBe('http-only.yaml: valid\n');
    expect(valid.stderr).toContain('checked against the upstreams of the current rule set, version 3');

    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('invalid.yaml:4:5: rule "patients-read", field "mode": must be one of legacy, shadow, canary, new, retired');
    expect(bad.stdout).toContain('invalid.yaml: invalid, 1 error');
    expect(badJson.code).toBe(1);
    expect(parse(badJson)).toMatchObject({ valid: false, checkedAgainst: 3, errors: [{ line: 4, column: 5, ruleId: 'patients-read', field: 'mode' }] });

    // without the upstreams the rules name, the file alone is not a valid rule set, and the output says why
    expect(alone.code).toBe(1);
    expect(alone.stderr).toMatch(/could not fetch the current upstreams \(cannot reach the admin API at http:\/\/127\.0\.0\.1:1: .*\): checked the file alone/);
    expect(alone.stdout).toContain('http-only.yaml:2:5: rule "patients-read": unknown upstream "legacy" (declared: none)');
  });

  it('warns, with --paths-case-insensitive, about a rule only the case of its path sets apart', async () => {
    const iis = httpOnly.replace('  - id: legacy-default', '  - id: patients-read-iis\n    match: { methods: [GET], path: /API/Patients/:mrn }\n    mode: legacy\n  - id: legacy-default');
    writeFileSync(path.join(s.dir, 'iis.yaml'), iis);
    const [plain, folded] = await Promise.all([
      s.ficus(['rules', 'validate', 'iis.yaml'], { cwd: s.dir }),
      s.ficus(['rules', 'validate', 'iis.yaml', '--paths-case-insensitive'], { cwd: s.dir }),
    ]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toBe('iis.yaml: valid\n');
    expect(folded.code, folded.stderr).toBe(0);
    expect(folded.stdout).toBe(
      'warning: iis.yaml:9:5: rule "patients-read-iis", field "match": can never match while paths compare regardless of case (FICUS_PATHS_CASE_INSENSITIVE): rule "patients-read" (iis.yaml:2) comes first and takes every request this one matches\niis.yaml: valid\n',
    );
  });

  it('refuses to import an invalid folder: file:line, exit 1, and no new version', async () => {
    const dir = path.join(s.dir, 'invalid-rules');
    mkdirSync(dir);
    writeFileSync(path.join(dir, '10-http.yaml'), invalid);
    const r = await s.ficus(['rules', 'import', dir, '--reason', 'should not land']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is invalid; nothing was sent');
    expect(r.stderr).toMatch(/10-http\.yaml:4:5: rule "patients-read", field "mode": must be one of/);
    expect(await currentVersion()).toBe(3);
  });

  it('exports the current rule set, and importing the export changes nothing', async () => {
    const dir = path.join(s.dir, 'export');
    const out = await s.ficus(['rules', 'export', dir]);
    expect(out.code, out.stderr).toBe(0);
    const upstreams = readFileSync(path.join(dir, '00-upstreams.yaml'), 'utf8');
    const http = readFileSync(path.join(dir, '10-http.yaml'), 'utf8');
    expect(upstreams).toMatch(/^# ficus export: the upstreams of rule set version 3, from http:\/\/127\.0\.0\.1:\d+\n/);
    expect(http).toMatch(/^# ficus export: the HTTP rules of rule set version 3/);
    expect(http).toContain('  - id: patients-read\n    match: {methods: [GET], path: /api/patients/:mrn}\n    mode: legacy\n');

    const back = await s.ficus(['rules', 'import', dir, '--reason', 'round trip', '--json']);
    expect(back.code, back.stderr).toBe(0);
    expect(parse(back)).toMatchObject({ version: 3, changed: false });
    expect(await currentVersion()).toBe(3);
  });

  it('round-trips a rule set that uses every kind of field, through import and export', async () => {
    const rich = path.join(s.dir, 'rich');
    mkdirSync(rich);
    writeFileSync(
      path.join(rich, '00-upstreams.yaml'),
      `upstreams:
  legacy:
    url: ${s.legacy.url}
    preserveHost: false
    timeouts: { connectMs: 1500, responseHeadersMs: 20000, bodyIdleMs: 30000 }
    pool: { connections: 16, keepAliveMs: 2000 }
    healthCheck: { path: /healthz, intervalMs: 500, timeoutMs: 300, unhealthyAfter: 3, healthyAfter: 2 }
    circuitBreaker: { failureThreshold: 4, openMs: 3000 }
  patient-service: { url: "${s.fresh.url}" }
`,
    );
    writeFileSync(
      path.join(rich, '10-http.yaml'),
      `http:
  - id: ward-7-reads
    match:
      methods: [GET, HEAD]
      paths: [/api/patients/:mrn, "/api/patients/:mrn/*"]
      headers: { x-ward: { equals: "7" }, x-debug: { present: false } }
      query: { v: { regex: "^(1|2)\\\\.[0-9]+$" } }
    mode: canary
    percent: 12.5
    target: patient-service
    sticky: { header: x-user-id, salt: "yes" }
  - id: encounters-shadow
    match: { methods: [GET, POST], path: /api/encounters/:mrn }
    mode: shadow
    target: patient-service
    shadow: { writes: true, concurrency: 8, timeoutMs: 3000, maxBodyBytes: 65536 }
    compare:
      headers: [content-type, etag]
      ignore: [/meta/requestId, "/items/*/id"]
      normalize: [timestamps, { kind: trim, paths: [/name] }]
      arrayKeys: { /items: code }
      learnNoise: true
      sampleRate: 0.25
      keepValues: false
    parity: { threshold: 0.995, minCompared: 200, window: 2h, gateAbovePercent: 10 }
  - id: results
    match: { paths: [/api/results, /api/results/**] }
    mode: new
    target: patient-service
    fallback: false
  - id: legacy-default
    match: { path: /** }
    mode: legacy
`,
    );
    const applied = await s.ficus(['rules', 'import', rich, '--reason', 'ward 7 pilot', '--json']);
    expect(applied.code, applied.stderr).toBe(0);
    expect(parse(applied)).toMatchObject({ version: 4, changed: true, change: { kind: 'import' } });

    const dir = path.join(s.dir, 'rich-export');
    expect((await s.ficus(['rules', 'export', dir])).code).toBe(0);
    const back = await s.ficus(['rules', 'import', dir, '--reason', 'round trip', '--json']);
    expect(back.code, back.stderr).toBe(0);
    expect(parse(back)).toMatchObject({ version: 4, changed: false });
    // and the export says what the files said, value for value
    const { diff } = (await s.admin.get<{ diff: { identical: boolean } }>('/api/versions/4/diff/4')).body;
    expect(diff.identical).toBe(true);
  });

  it('prints parity per rule, and a gated flip needs --force from an admin', async () => {
    const r = await s.ficus(['parity', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const list = parse(r) as { rule: string; compared: number; mismatches: number; parity: number | null }[];
    expect(list).toContainEqual(expect.objectContaining({ rule: 'encounters-shadow', compared: 0, mismatches: 0, parity: null, window: '2h' }));
    const one = await s.ficus(['parity', 'encounters-shadow']);
    expect(one.stdout).toMatch(/^gate:\s+closed \(needs 99\.50 % over 200 requests and 100 keys in 2h\)$/m);
    const refused = await s.ficus(['rules', 'flip', 'encounters-shadow', '--mode', 'new', '--reason', 'go live']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refused \(422\): Parity gate closed/);
    expect(refused.stderr).toContain('rule "encounters-shadow" to new: nothing compared in the last 2h');
    const forced = await s.ficus(['rules', 'flip', 'encounters-shadow', '--mode', 'new', '--force', '--reason', 'accepted by the ward']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('forced past the parity gate');
    // the tables say so too (the summary, where it was, is cut to the column's width)
    const [audit, versions] = await Promise.all([s.ficus(['audit', '--action', 'rules.flip', '--target', 'encounters-shadow', '--limit', '1']), s.ficus(['rules', 'versions', '--limit', '1'])]);
    expect(audit.stdout).toMatch(/rules\.flip\s+encounters-shadow\s+ok, forced\s+200/);
    expect(versions.stdout).toMatch(/\sflip, forced\s/);
  });

  it('does not overwrite a rule file that an export did not write', async () => {
    const dir = path.join(s.dir, 'hand-written');
    mkdirSync(dir);
    writeFileSync(path.join(dir, '10-http.yaml'), '# reviewed by the ward team\nhttp: []\n');
    writeFileSync(path.join(dir, '20-extra.yaml'), 'http: []\n');
    const refused = await s.ficus(['rules', 'export', dir]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not overwriting .*10-http\.yaml: not written by `ficus rules export`/);
    expect(readFileSync(path.join(dir, '10-http.yaml'), 'utf8')).toBe('# reviewed by the ward team\nhttp: []\n');

    const forced = await s.ficus(['rules', 'export', dir, '--force', '--json']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(parse(forced)).toMatchObject({ version: 5 });
    expect(forced.stderr).toContain('also holds 20-extra.yaml');
    expect(readFileSync(path.join(dir, '20-extra.yaml'), 'utf8')).toBe('http: []\n');
  });

  it('gates a rollback as a flip: refused past a closed gate, and --force from an admin goes past it', async () => {
    // the forced flip above put encounters-shadow in mode new; back to shadow, then a rollback to new
    const forcedVersion = await currentVersion();
    const back = await s.ficus(['rules', 'flip', 'encounters-shadow', '--mode', 'shadow', '--reason', 'trouble on ward 7']);
    expect(back.code, back.stderr).toBe(0);
    const refused = await s.ficus(['rules', 'rollback', String(forcedVersion), '--reason', 'live again']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/refused \(422\): Parity gate closed/);
    expect(refused.stderr).toContain('rule "encounters-shadow" to new: nothing compared in the last 2h');
    expect(await currentVersion()).toBe(forcedVersion + 1);
    const forced = await s.ficus(['rules', 'rollback', String(forcedVersion), '--force', '--reason', 'accepted by the ward']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout.trim()).toBe(
      `version ${forcedVersion + 2}: rollback to version ${forcedVersion}: encounters-shadow: shadow (patient-service) → new (patient-service) (forced past the parity gate) (from version ${forcedVersion + 1})`,
    );
  });

  it('never prints the admin token', () => {
    for (const r of s.runs) expect(r.stdout + r.stderr).not.toContain(ADMIN_TOKEN);
  });
});
