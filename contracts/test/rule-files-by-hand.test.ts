/**
 * Rule files as integration engineers write them by hand (a probe of 2026-12-07): each on disk,
 * read by loadRuleDir as the gateway, the CLI and the store's seed read them. What was accepted
 * and then never matched, or held the gateway, is refused with file:line; what other YAML tools
 * take (merge keys) applies as written; what was refused stays refused, with a reason a person
 * reads.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatIssue, loadRuleDir, validateRuleDocuments } from '../src/index.js';

const UPSTREAMS = 'upstreams:\n  legacy: { url: http://127.0.0.1:8000 }\n  patient-service: { url: http://127.0.0.1:8101 }\n';
const TAIL = '  - id: legacy-default\n    match: { path: /** }\n    mode: legacy\n';
const retired = (match: string) => `http:\n  - id: ward\n    match: ${match}\n    mode: retired\n    target: patient-service\n${TAIL}`;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function load(http: string) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ficus-by-hand-'));
  dirs.push(dir);
  writeFileSync(path.join(dir, '00-upstreams.yaml'), UPSTREAMS);
  writeFileSync(path.join(dir, '10-http.yaml'), http);
  const r = await loadRuleDir(dir);
  return { ...r, issues: r.ok ? [] : r.errors.map((e) => formatIssue({ ...e, file: path.basename(e.file ?? '') })) };
}

describe('rule files written by hand', () => {
  it('refuses a header or query regex with a repetition inside a repetition: one crafted value held the gateway', async () => {
    const r = await load(retired('{ path: /api/**, headers: { x-ward: { regex: "(a+)+$" } } }'));
    expect(r.issues).toEqual([expect.stringMatching(/^10-http\.yaml:3:50: rule "ward", field "regex": "a\+" repeats inside "\(a\+\)\+": .*exponential time.*ReDoS/)]);
    const q = await load(retired('{ path: /api/**, query: { ward: { regex: "^([0-9]*)*$" } } }'));
    expect(q.issues).toEqual([expect.stringMatching(/field "regex": "\[0-9\]\*" repeats inside/)]);
    // what people write otherwise stays valid: a repetition of fixed parts, an optional one, alternatives
    for (const ok of ['^ward-[0-9]+$', '^(7|8)+$', '^(\\d+)?$', '^(\\d{3}-)+\\d{4}$', '(?:icu|ccu)']) {
      expect((await load(retired(`{ path: /api/**, headers: { x-ward: { regex: ${JSON.stringify(ok)} } } }`))).issues, ok).toEqual([]);
    }
  });

  it('refuses a path pattern holding a percent escape or a stray space: requests are matched decoded, so it never matched', async () => {
    expect((await load(retired('{ path: /api/pat%69ents/:mrn }'))).issues).toEqual([
      '10-http.yaml:3:14: rule "ward", field "path": "%69": paths are compared percent-decoded; write the character itself ("i")',
    ]);
    expect((await load(retired('{ path: /api%2Fpatients/:mrn }'))).issues).toEqual([expect.stringMatching(/field "path": "%2F": an escaped slash cannot be matched by a pattern/)]);
    expect((await load(retired('{ path: "/api/patients /:mrn" }'))).issues).toEqual([expect.stringMatching(/field "path": segment "patients " has white space at its start or end/)]);
    // a plain scalar's trailing blanks are YAML's, not the path's; a "%" that is no escape is a character (a request's %25)
    expect((await load(retired('\n      path: /api/patients/:mrn   \n     '))).issues).toEqual([]);
    expect((await load(retired('{ path: /reports/100% }'))).issues).toEqual([]);
  });

  it('applies merge keys as Kubernetes and Compose files use them, an explicit key winning', async () => {
    const r = await load(`http:
  - &canary
    id: patients-read
    match: { methods: [GET], path: /api/patients/:mrn }
    mode: canary
    percent: 10
    target: patient-service
    sticky: { param: mrn }
  - <<: *canary
    id: encounters-read
    match: { methods: [GET], path: /api/patients/:mrn/encounters }
    percent: 5
${TAIL}`);
    expect(r.issues).toEqual([]);
    expect(r.ok && r.ruleSet.http.map((h) => [h.id, h.mode, h.percent, h.target, h.sticky?.param])).toEqual([
      ['patients-read', 'canary', 10, 'patient-service', 'mrn'],
      ['encounters-read', 'canary', 5, 'patient-service', 'mrn'],
      ['legacy-default', 'legacy', undefined, undefined, undefined],
    ]);
  });

  it('names a second document in a file in a rule file\'s terms, not the parser\'s', async () => {
    expect((await load(`http:\n${TAIL}---\nhttp:\n${TAIL}`)).issues).toEqual([
      '10-http.yaml:5:1: YAML: a second document ("---") in one file: a rule file holds one document; put the second in a file of its own',
    ]);
  });

  it('keeps what held: BOM and CRLF read, duplicate keys and tabs refused, YAML 1.1 booleans and quoted numbers refused', async () => {
    const plain = retired('{ methods: [GET], path: /api/patients/:mrn }');
    expect((await load('\uFEFF' + plain.replace(/\n/g, '\r\n'))).issues).toEqual([]);
    expect((await load(plain.replace('    mode: retired\n', '    mode: retired\n    mode: legacy\n'))).issues).toEqual(['10-http.yaml:5:5: YAML: Map keys must be unique']);
    expect((await load(plain.replace('    mode: retired', '\tmode: retired'))).issues[0]).toMatch(/Tabs are not allowed as indentation/);
    expect((await load(plain.replace('    mode: retired\n', '    mode: retired\n    fallback: yes\n'))).issues).toEqual(['10-http.yaml:5:5: rule "ward", field "fallback": must be boolean']);
    const canary = (p: string) => `http:\n  - id: c\n    match: { path: /c/:mrn }\n    mode: canary\n    percent: ${p}\n    target: patient-service\n    sticky: { param: mrn }\n${TAIL}`;
    expect((await load(canary('"20"'))).issues).toEqual(['10-http.yaml:5:5: rule "c", field "percent": must be number']);
    expect((await load(canary('1e1'))).ok).toBe(true);
  });
});

describe('checks added after rules were applied', () => {
  const ruleSet = (regex: string, path = '/api/**') => ({
    upstreams: { legacy: { url: 'http://127.0.0.1:8000' }, 'patient-service': { url: 'http://127.0.0.1:8101' } },
    http: [
      { id: 'ward', match: { path, headers: { 'x-ward': { regex } } }, mode: 'retired', target: 'patient-service' },
      { id: 'legacy-default', match: { path: '/**' }, mode: 'legacy' },
    ],
  });
  const validate = (data: unknown, options: Parameters<typeof validateRuleDocuments>[1] = {}) => {
    const r = validateRuleDocuments([{ data }], options);
    return { ok: r.ok, errors: r.ok ? [] : r.errors.map((e) => e.reason), warnings: r.warnings.map((w) => w.reason) };
  };
  const hazard = '^[a-z]+(-[a-z]+)*$';

  it('warn, not refuse, on a stored version (the gateway starts with what it served before the upgrade)', () => {
    expect(validate(ruleSet(hazard))).toMatchObject({ ok: false, errors: [expect.stringMatching(/repeats inside/)] });
    expect(validate(ruleSet(hazard), { stored: true })).toEqual({ ok: true, errors: [], warnings: [expect.stringMatching(/repeats inside .*\(kept: it was serving before this check; change it\)$/)] });
    expect(validate(ruleSet('^ok$', '/api/%69cu/**'), { stored: true })).toMatchObject({ ok: true, warnings: [expect.stringMatching(/paths are compared percent-decoded/)] });
  });

  it('warn on a change that keeps a rule serving as it was (a flip, a rollback), and refuse one that brings the pattern', () => {
    const serving = validateRuleDocuments([{ data: ruleSet(hazard) }], { stored: true });
    if (!serving.ok) throw new Error('the serving rules should load');
    const flipped = { ...ruleSet(hazard), http: ruleSet(hazard).http.map((r) => (r.id === 'ward' ? { ...r, mode: 'legacy' } : r)) };
    expect(validate(flipped, { servingNow: serving.ruleSet })).toMatchObject({ ok: true, warnings: [expect.stringMatching(/kept: it was serving/)] });
    expect(validate(ruleSet('^(b+)+$'), { servingNow: serving.ruleSet })).toMatchObject({ ok: false, errors: [expect.stringMatching(/repeats inside/)] });
  });
});
