/**
 * `ficus` as a real process: how it finds the API and its token, exit codes for usage errors
 * and unreachable APIs, the audit log, and tokens (a revoked one stops working at once).
 */
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../../test-support/until.js';
import { ADMIN_TOKEN, LINKED_BIN, parse, REPO_ROOT, startScene, type Scene } from './support/cli-scene.js';

let s: Scene;

beforeAll(async () => {
  s = await startScene('cli_access');
});
afterAll(async () => {
  await s?.close();
});

/** a port on which nothing listens */
async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

describe('ficus: usage, connection and configuration', () => {
  it('is linked as `npx ficus` and runs from any folder', async () => {
    const [npx, help, list] = await Promise.all([
      s.ficus(['--no-install', 'ficus', '--version'], { command: 'npx', cwd: REPO_ROOT }),
      s.ficus(['--help'], { command: LINKED_BIN, cwd: s.dir }),
      s.ficus(['rules', 'list'], { command: LINKED_BIN, cwd: '/' }),
    ]);
    expect(npx.code, npx.stderr).toBe(0);
    expect(npx.stdout.trim()).toBe('0.1.0');
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: ficus');
    expect(help.stdout).toContain('Exit codes: 0 ok, 1 refused or failed, 2 usage error, 3 `reconcile` found differences,\n4 `queues dead-letters` or `conflicts list` printed without a component that did not answer.');
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^rule set version 1/);
  });

  it('exits 2 on usage errors, before anything is sent', async () => {
    const runs = await Promise.all([
      s.ficus(['bogus']),
      s.ficus(['rules', 'flip', 'patients-read', '--mode', 'new']),
      s.ficus(['rules', 'rollback', '1']),
      s.ficus(['rules', 'import', s.dir]),
      s.ficus(['rules', 'flip', 'patients-read', '--mode', 'sideways', '--reason', 'x']),
      s.ficus(['rules', 'flip', 'patients-read', '--mode', 'canary', '--percent', '120', '--reason', 'x']),
      s.ficus(['rules', 'list', '--bogus']),
      s.ficus(['audit', '--since', 'yesterday']),
    ]);
    for (const r of runs) expect(r.code, `${r.args.join(' ')}: ${r.stderr}`).toBe(2);
    const [unknown, noReason] = runs;
    expect(unknown!.stderr).toContain("error: unknown command 'bogus'");
    expect(noReason!.stderr).toContain("error: required option '--reason <text>' not specified");
    expect((await s.admin.get<{ current: number }>('/api/versions?limit=1')).body.current).toBe(1);
  });

  it('exits 1 with a clear message without a token, or when the API cannot be reached', async () => {
    const port = await closedPort();
    const [noToken, noTokenJson, unreachable] = await Promise.all([
      s.ficus(['rules', 'list'], { env: { FICUS_TOKEN: undefined } }),
      s.ficus(['rules', 'list', '--json'], { env: { FICUS_TOKEN: undefined } }),
      s.ficus(['rules', 'list'], { env: { FICUS_ADMIN_URL: `http://127.0.0.1:${port}` } }),
    ]);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain(`no admin token: set FICUS_TOKEN, pass --token, or put "token" in ${path.join(s.dir, '.config', 'ficus', 'config.json')}`);
    expect(noTokenJson.code).toBe(1);
    expect(JSON.parse(noTokenJson.stderr)).toMatchObject({ title: expect.stringContaining('no admin token') });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain(`cannot reach the admin API at http://127.0.0.1:${port}: ECONNREFUSED`);
  });

  it('reads the admin URL and token from the config file; flags and the environment win', async () => {
    const config = path.join(s.dir, 'ficus.json');
    writeFileSync(config, JSON.stringify({ adminUrl: s.gw.adminUrl, token: ADMIN_TOKEN }));
    chmodSync(config, 0o600);
    const xdg = path.join(s.dir, 'xdg');
    mkdirSync(path.join(xdg, 'ficus'), { recursive: true });
    writeFileSync(path.join(xdg, 'ficus', 'config.json'), JSON.stringify({ adminUrl: s.gw.adminUrl, token: ADMIN_TOKEN }));
    chmodSync(path.join(xdg, 'ficus', 'config.json'), 0o644);
    const port = await closedPort();
    const [fromFile, fromXdg, flagWins, envWins] = await Promise.all([
      s.ficus(['rules', 'list'], { env: { FICUS_CONFIG: config, FICUS_TOKEN: undefined, FICUS_ADMIN_URL: undefined } }),
      s.ficus(['rules', 'list'], { env: { XDG_CONFIG_HOME: xdg, FICUS_TOKEN: undefined, FICUS_ADMIN_URL: undefined } }),
      s.ficus(['rules', 'list', '--token', 'ficus_not-a-real-token', '--url', s.gw.adminUrl], { env: { FICUS_CONFIG: config, FICUS_ADMIN_URL: undefined } }),
      s.ficus(['rules', 'list'], { env: { FICUS_CONFIG: config, FICUS_ADMIN_URL: `http://127.0.0.1:${port}` } }),
    ]);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(fromFile.stderr).toBe('');
    expect(fromXdg.code, fromXdg.stderr).toBe(0);
    expect(fromXdg.stderr).toContain('can be read by other users: chmod 600 it');
    expect(flagWins.code).toBe(1);
    expect(flagWins.stderr).toContain('refused (401)');
    expect(flagWins.stderr).toContain('the token from --token');
    expect(envWins.code).toBe(1);
    expect(envWins.stderr).toContain(`http://127.0.0.1:${port}`);
  });
});

describe('ficus: a URL that is not the admin API', () => {
  it('says the gateway\'s data plane answered, exits 1, and the admin token never reaches legacy', async () => {
    const since = s.legacy.received.length;
    const [human, json] = await Promise.all([s.ficus(['rules', 'list', '--url', s.gw.url]), s.ficus(['rules', 'list', '--json'], { env: { FICUS_ADMIN_URL: s.gw.url } })]);
    expect(human.code).toBe(1);
    expect(human.stdout).toBe('');
    expect(human.stderr).toContain(`${s.gw.url} is not the Ficus admin API: it answered GET /api/rules with HTTP 200 and is the gateway's data plane: it passed the request on (x-ficus-route: legacy-default; legacy)`);
    expect(human.stderr).toContain('the admin API listens on its own port (default 8081');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stderr)).toMatchObject({ title: expect.stringContaining('is not the Ficus admin API') });
    const forwarded = s.legacy.received.slice(since).filter((r) => r.url === '/api/rules');
    expect(forwarded).toHaveLength(2);
    for (const r of forwarded) expect(r.headers.authorization).toBeUndefined();
  });
});

describe('ficus upstreams', () => {
  it("lists the answering instance's upstreams with the address it uses, health and circuit", async () => {
    const [text, json] = await Promise.all([s.ficus(['upstreams']), s.ficus(['upstreams', '--json'])]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^gateway instance .* \(pid \d+\), rules store version \d+/);
    const lineOf = (name: string) => text.stdout.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
    expect(lineOf('legacy')).toContain(new URL(s.legacy.url).host);
    expect(lineOf('patient-service')).toContain(new URL(s.fresh.url).host);
    expect(lineOf('patient-service')).toContain('closed since');
    expect(json.code, json.stderr).toBe(0);
    const answer = JSON.parse(json.stdout) as { upstreams: { name: string; url: string }[] };
    expect(answer.upstreams.map((u) => [u.name, new URL(u.url).host]).sort()).toEqual(
      [
        ['legacy', new URL(s.legacy.url).host],
        ['patient-service', new URL(s.fresh.url).host],
      ].sort(),
    );
  });

  it('shows the emergency override file the instance applies, and the rules it holds on each upstream', async () => {
    const file = path.join(s.gw.stateDir, 'emergency-legacy.yaml');
    type Answer = { emergency?: { since: string } };
    const emergencyNow = async () => (await s.admin.get<Answer>('/api/upstreams')).body.emergency;
    writeFileSync(file, 'rules: [patients-write]\nreason: patient-service loses writes\nby: j.doe\n');
    try {
      const since = (await until(emergencyNow, 'the override applied', 10_000)).since;
      const text = await s.ficus(['upstreams']);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain(`EMERGENCY OVERRIDE: ${file} in force on this instance since ${since} by j.doe: patient-service loses writes; rules held in legacy whatever the rule store says: patients-write`);
      expect(text.stdout).toMatch(/UPSTREAM\s+URL\s+HEALTH\s+CIRCUIT\s+LAST HEALTH-CHECK ERROR\s+HELD IN LEGACY \(EMERGENCY\)\n/);
      for (const name of ['legacy', 'patient-service']) expect(text.stdout.split('\n').find((l) => l.startsWith(`${name} `))).toMatch(/\spatients-write$/);
    } finally {
      rmSync(file, { force: true });
      await until(async () => !(await emergencyNow()), 'the override removed', 10_000);
      // its two audit entries in before the audit test counts entries
      await until(async () => (await s.admin.get<{ entries: unknown[] }>('/api/audit?action=rules.emergency')).body.entries.length === 2, 'the override audited', 10_000);
    }
    const after = await s.ficus(['upstreams']);
    expect(after.stdout).not.toContain('EMERGENCY');
  });
});

describe('ficus audit', () => {
  it('filters by actor, action, outcome, target and time', async () => {
    // one change that lands and one that is refused as stale
    const flip = await s.ficus(['rules', 'flip', 'patients-read', '--mode', 'new', '--reason', 'audit me']);
    expect(flip.code, flip.stderr).toBe(0);
    const stale = await s.ficus(['rules', 'flip', 'patients-write', '--mode', 'new', '--reason', 'too late', '--base', '1']);
    expect(stale.code).toBe(1);

    const [all, conflicts, byTarget, byActor, future, table] = await Promise.all([
      s.ficus(['audit', '--json']),
      s.ficus(['audit', '--action', 'rules.flip', '--outcome', 'conflict', '--json']),
      s.ficus(['audit', '--target', 'patients-read', '--since', '1h', '--json']),
      s.ficus(['audit', '--actor', 'token:nobody', '--json']),
      s.ficus(['audit', '--since', '2999-01-01']),
      s.ficus(['audit', '--action', 'rules.flip', '--limit', '1']),
    ]);
    type Entries = { entries: { action: string; outcome: string; target: string; reason: string; version?: number }[] };
    expect(parse<Entries>(all)).toEqual((await s.admin.get('/api/audit')).body);
    expect(parse<Entries>(conflicts).entries).toEqual([expect.objectContaining({ action: 'rules.flip', outcome: 'conflict', target: 'patients-write', reason: 'too late' })]);
    expect(parse<Entries>(byTarget).entries).toEqual([expect.objectContaining({ action: 'rules.flip', outcome: 'ok', target: 'patients-read', version: 2 })]);
    expect(parse<Entries>(byActor).entries).toEqual([]);
    expect(future.stdout).toBe('no audit entries match\n');
    // the table names the token that acted, by name and id: a name may have been another token's before
    const firstAdmin = (await s.admin.get<{ tokens: { id: number; name: string }[] }>('/api/tokens')).body.tokens.find((t) => t.name === 'first-admin')!.id;
    expect(table.stdout).toMatch(new RegExp(`^ID\\s+AT\\s+ACTOR\\s+ACTION\\s+TARGET\\s+OUTCOME\\s+STATUS\\s+VERSION\\s+REASON\\n\\d+\\s+\\S+\\s+token:first-admin#${firstAdmin}\\s+rules\\.flip\\s+patients-write\\s+conflict\\s+409\\s+-\\s+too late\\n$`));
    const [byToken, byOtherToken] = await Promise.all([
      s.ficus(['audit', '--actor', `token:first-admin#${firstAdmin}`, '--action', 'rules.flip', '--json']),
      s.ficus(['audit', '--actor', `token:first-admin#${firstAdmin + 1000}`, '--json']),
    ]);
    expect(parse<Entries>(byToken).entries.map((e) => e.reason)).toEqual(['too late', 'audit me']);
    expect(parse<Entries>(byOtherToken).entries).toEqual([]);
  });
});

describe('ficus tokens', () => {
  it('creates, lists and revokes; a revoked token gets exit 1 with the 401 explained', async () => {
    const created = await s.ficus(['tokens', 'create', 'ward7-dashboard', '--role', 'viewer', '--reason', 'wall screen', '--json']);
    expect(created.code, created.stderr).toBe(0);
    const token = parse<{ id: number; name: string; role: string; token: string }>(created);
    expect(token).toMatchObject({ name: 'ward7-dashboard', role: 'viewer', token: expect.stringMatching(/^ficus_/) });

    const human = await s.ficus(['tokens', 'create', 'ci-bot', '--role', 'operator', '--expires', '30d']);
    const badEnd = await s.ficus(['tokens', 'create', 'ci-bot-2', '--role', 'operator', '--expires', 'next week']);
    expect(badEnd.code).toBe(2);
    expect(badEnd.stderr).toContain('nor a lifetime (12h, 30d, 12w)');
    const [list, listJson, asViewer, viewerFlip] = await Promise.all([
      s.ficus(['tokens', 'list']),
      s.ficus(['tokens', 'list', '--json']),
      s.ficus(['rules', 'list'], { env: { FICUS_TOKEN: token.token } }),
      s.ficus(['rules', 'flip', 'patients-read', '--mode', 'legacy', '--reason', 'x'], { env: { FICUS_TOKEN: token.token } }),
    ]);
    expect(human.code).toBe(0);
    expect(human.stderr).toContain('shown this once');
    expect(human.stdout).toMatch(/^token:\s+ficus_\S+$/m);
    // an end 30 days from now, kept by the API and shown in the list
    const end = /^expires:\s+(\S+)$/m.exec(human.stdout)?.[1];
    expect(Math.abs(Date.parse(end ?? '') - (Date.now() + 30 * 86_400_000))).toBeLessThan(120_000);
    expect(list.stdout).toMatch(new RegExp(`\\sci-bot\\s+operator\\s.*${end!.replace(/[.]/g, '\\.')}`, 'm'));
    expect(list.stdout).toMatch(new RegExp(`^${token.id}\\s+ward7-dashboard\\s+viewer\\s`, 'm'));
    expect(list.stdout + listJson.stdout).not.toContain(token.token);
    // the API's own answer (lastUsedAt moves with every call, so it is left out of the comparison)
    type Tokens = { tokens: Record<string, unknown>[] };
    const withoutLastUse = (t: Tokens) => t.tokens.map(({ lastUsedAt: _l, ...rest }) => rest);
    expect(withoutLastUse(parse<Tokens>(listJson))).toEqual(withoutLastUse((await s.admin.get<Tokens>('/api/tokens')).body));
    expect(asViewer.code, asViewer.stderr).toBe(0);
    expect(viewerFlip.code).toBe(1);
    expect(viewerFlip.stderr).toContain('refused (403): Not allowed: this needs the role "operator"; the caller has "viewer"');

    const revoked = await s.ficus(['tokens', 'revoke', String(token.id)]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout.trim()).toBe(`revoked token ${token.id} (ward7-dashboard, viewer)`);

    const [afterRevoke, again] = await Promise.all([
      s.ficus(['rules', 'list'], { env: { FICUS_TOKEN: token.token } }),
      s.ficus(['tokens', 'revoke', String(token.id)]),
    ]);
    expect(afterRevoke.code).toBe(1);
    expect(afterRevoke.stderr).toContain('refused (401): Authentication required: the token was revoked: ask an admin for a new one');
    expect(afterRevoke.stderr).toContain('the admin API did not accept the token from FICUS_TOKEN');
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('refused (404)');

    const audit = parse<{ entries: { outcome: string; target: string }[] }>(await s.ficus(['audit', '--action', 'tokens.revoke', '--json']));
    expect(audit.entries.map((e) => e.outcome)).toEqual(['refused', 'ok']);
  });

  it('never prints the admin token', () => {
    for (const r of s.runs) expect(r.stdout + r.stderr).not.toContain(ADMIN_TOKEN);
  });
});
