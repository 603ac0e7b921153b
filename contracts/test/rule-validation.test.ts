import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatIssue, loadRuleDir, parseRuleYaml, validateRuleDocuments } from '../src/index.js';
import { check, errorsOf, TAIL, UPSTREAMS } from './support/rule-check.js';


describe('rule validation', () => {
  it('takes a canary percent in hundredths, which binary floating point does not hold exactly, and refuses finer ones', () => {
    const canary = (percent: number) => `http:
  - id: a
    match: { path: /a/:mrn }
    mode: canary
    percent: ${percent}
    target: patient-service
    sticky: { param: mrn }
${TAIL}`;
    for (const p of [33.33, 0.29, 4.35, 0.07, 12.5]) expect(check(canary(p)).ok, String(p)).toBe(true);
    expect(errorsOf(canary(12.345)).map(formatIssue).join('\n')).toMatch(/multiple of 0.01/);
  });

  it('accepts the shipped rules in routing-rules/', async () => {
    const r = await loadRuleDir(path.resolve(import.meta.dirname, '../../routing-rules'));
    expect(r.ok ? [] : r.errors.map(formatIssue)).toEqual([]);
    expect(r.warnings).toEqual([]);
    if (!r.ok) return;
    expect(r.ruleSet.http.map((h) => h.id)).toEqual(['fhir-results', 'fhir-patients', 'patients-read', 'patients-search', 'patients-write', 'encounters-read', 'results-read', 'legacy-default']);
    // the legacy API's rules start in mode legacy; the FHIR APIs, which the legacy has none of, are the services' alone
    expect(r.ruleSet.http.map((h) => h.mode)).toEqual(['retired', 'retired', 'legacy', 'legacy', 'legacy', 'legacy', 'legacy', 'legacy']);
    expect(Object.fromEntries(r.ruleSet.http.filter((h) => h.target).map((h) => [h.id, h.target]))).toEqual({
      'fhir-results': 'results-service',
      'fhir-patients': 'patient-service',
      'patients-read': 'patient-service',
      'patients-search': 'patient-service',
      'patients-write': 'patient-service',
      'encounters-read': 'patient-service',
      'results-read': 'results-service',
    });
    expect(r.ruleSet.hl7?.map((h) => [h.id, h.mode, h.target])).toEqual([
      ['adt-patient-events', 'legacy', 'patient-service'],
      ['lab-results', 'legacy', 'results-service'],
      ['hl7-default', 'legacy', undefined],
    ]);
  });

  it('reports a schema error with file, line, column, rule and field', () => {
    const [e, ...rest] = errorsOf(`http:
  - id: patients-read
    match: { path: /api/patients/:mrn }
    mode: canery
    target: patient-service
${TAIL}`);
    expect(rest).toEqual([]);
    expect(e).toMatchObject({ file: 'http.yaml', line: 4, ruleId: 'patients-read', field: 'mode' });
    expect(formatIssue(e!)).toBe('http.yaml:4:5: rule "patients-read", field "mode": must be one of legacy, shadow, canary, new, retired');
  });

  it('refuses a path pattern that could never match, with where and why', () => {
    const errors = errorsOf(`http:
  - id: session-page
    match: { path: /app/page.jsp;jsessionid=x }
    mode: legacy
${TAIL}`);
    expect(errors.map(formatIssue)).toEqual([expect.stringMatching(/^http\.yaml:3:\d+: rule "session-page", field "path": .*path parameters \(";…"\) are not matched/)]);
  });

  it('names unknown fields and missing ones', () => {
    const errors = errorsOf(`http:
  - id: a
    match: { path: /a, method: GET }
  - id: b
    mode: legacy
${TAIL}`);
    expect(errors.map(formatIssue)).toEqual([
      'http.yaml:2:5: rule "a": missing required field "mode"',
      'http.yaml:3:24: rule "a", field "method": unknown field "method"',
      'http.yaml:4:5: rule "b": missing required field "match"',
    ]);
  });

  it('refuses an unknown upstream, naming the declared ones', () => {
    const [e] = errorsOf(`http:
  - id: a
    match: { path: /a }
    mode: new
    target: patient-servce
${TAIL}`);
    expect(formatIssue(e!)).toBe('http.yaml:5:5: rule "a", field "target": unknown upstream "patient-servce" (declared: legacy, patient-service)');
  });

  it('refuses a duplicate id, pointing at the first one', () => {
    const [e] = errorsOf(`http:
  - id: a
    match: { path: /a }
    mode: legacy
  - id: a
    match: { path: /b }
    mode: legacy
${TAIL}`);
    expect(formatIssue(e!)).toBe('http.yaml:5:5: rule "a", field "id": duplicate rule id "a", first used (http.yaml:2)');
  });

  it('refuses a rule that can never match because an earlier one covers it', () => {
    const errors = errorsOf(`http:
  - id: all-patients
    match: { path: /api/patients/** }
    mode: legacy
  - id: one-patient
    match: { methods: [GET], path: /api/patients/:mrn, headers: { x-ward: { equals: ICU } } }
    mode: new
    target: patient-service
  - id: by-get
    match: { methods: [GET], path: /api/other/:id }
    mode: legacy
  - id: by-head
    match: { methods: [HEAD], path: /api/other/*, query: { x: { present: true } } }
    mode: legacy
  - id: not-covered
    match: { methods: [POST], path: /api/other/:id }
    mode: legacy
${TAIL}`);
    expect(errors.map(formatIssue)).toEqual([
      'http.yaml:6:5: rule "one-patient", field "match": can never match: rule "all-patients" (http.yaml:2) comes first and takes every request this one matches',
      'http.yaml:13:5: rule "by-head", field "match": can never match: rule "by-get" (http.yaml:9) comes first and takes every request this one matches',
    ]);
  });

  it('warns, with FICUS_PATHS_CASE_INSENSITIVE, about a rule covered only when case is folded (of a path or a query name)', () => {
    const yaml = `http:
  - id: patients-read
    match: { methods: [GET], path: /api/patients/:mrn }
    mode: legacy
  - id: iis-spelling
    match: { methods: [GET], path: /API/Patients/:mrn }
    mode: new
    target: patient-service
  - id: other-case-other-path
    match: { methods: [GET], path: /API/Results/:mrn }
    mode: legacy
  - { id: encounters-read, match: { methods: [GET], path: /api/encounters, query: { mrn: { present: true } } }, mode: legacy }
  - { id: encounters-iis, match: { methods: [GET], path: /api/encounters, query: { MRN: { equals: "100001" } } }, mode: new, target: patient-service }
${TAIL}`;
    const a = parseRuleYaml(UPSTREAMS, 'upstreams.yaml');
    const b = parseRuleYaml(yaml, 'http.yaml');
    const plain = validateRuleDocuments([a.doc, b.doc]);
    expect(plain.ok).toBe(true);
    expect(plain.warnings).toEqual([]);
    const folded = validateRuleDocuments([a.doc, b.doc], { caseInsensitivePaths: true });
    // a warning, not a refusal: the same rule set may serve gateways without the setting
    expect(folded.ok).toBe(true);
    expect(folded.warnings.map(formatIssue)).toEqual([
      'http.yaml:6:5: rule "iis-spelling", field "match": can never match while paths compare regardless of case (FICUS_PATHS_CASE_INSENSITIVE): rule "patients-read" (http.yaml:2) comes first and takes every request this one matches',
      'http.yaml:13:27: rule "encounters-iis", field "match": can never match while paths compare regardless of case (FICUS_PATHS_CASE_INSENSITIVE): rule "encounters-read" (http.yaml:12) comes first and takes every request this one matches',
    ]);
    // a rule covered whatever the case stays an error, reported once
    const covered = validateRuleDocuments([a.doc, parseRuleYaml(yaml.replace('/API/Patients/:mrn', '/api/patients/:id'), 'http.yaml').doc], { caseInsensitivePaths: true });
    expect(covered.ok).toBe(false);
    expect(covered.ok ? [] : covered.errors.map((e) => e.ruleId)).toEqual(['iis-spelling']);
    expect(covered.warnings.map((w) => w.ruleId)).toEqual(['encounters-iis']);
  });

  it('does not call narrower or disjoint rules shadowed', () => {
    const r = check(`http:
  - id: icu-only
    match: { path: /api/patients/**, headers: { x-ward: { equals: ICU } } }
    mode: new
    target: patient-service
  - id: exact
    match: { path: /api/patients }
    mode: legacy
  - id: deeper
    match: { path: /api/patients/:mrn/notes }
    mode: legacy
  - id: any-one
    match: { path: /api/patients/* }
    mode: legacy
${TAIL}`);
    expect(r.ok ? [] : r.errors.map(formatIssue)).toEqual([]);
  });

  it('checks canary settings and sticky keys by meaning', () => {
    const errors = errorsOf(`http:
  - id: a
    match: { path: /a/:id }
    mode: canary
    target: patient-service
  - id: b
    match: { path: /b/:id }
    mode: canary
    percent: 10
    target: patient-service
    sticky: { param: mrn }
  - id: c
    match: { path: /c }
    mode: canary
    percent: 10
    target: patient-service
    sticky: { header: x-user, cookie: sid }
  - id: d
    match: { path: /d }
    mode: new
${TAIL}`);
    expect(errors.map(formatIssue)).toEqual([
      'http.yaml:2:5: rule "a": mode "canary" needs "percent" (0-100)',
      'http.yaml:2:5: rule "a": mode "canary" needs "sticky" (header, param, query or cookie) so a patient stays on one side',
      'http.yaml:11:15: rule "b", field "param": no path of this rule has a parameter ":mrn"',
      'http.yaml:17:5: rule "c", field "sticky": "sticky" names exactly one of header, param, query or cookie (found 2)',
      'http.yaml:18:5: rule "d": mode "new" needs a "target" (the new service)',
    ]);
  });

  it('checks path patterns and regular expressions', () => {
    const errors = errorsOf(`http:
  - id: a
    match: { path: "/a/**/b" }
    mode: legacy
  - id: b
    match: { path: "/b/:x/:x" }
    mode: legacy
  - id: c
    match: { path: /c, query: { q: { regex: "([" } } }
    mode: legacy
${TAIL}`);
    expect(errors.map((e) => [e.line, e.ruleId, e.field, e.reason])).toEqual([
      [3, 'a', 'path', '"**" may only be the last segment'],
      [6, 'b', 'path', 'parameter ":x" appears twice'],
      [9, 'c', 'regex', expect.stringMatching(/^invalid regular expression: /)],
    ]);
  });

  it('reports YAML syntax errors with their line', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rules-'));
    writeFileSync(path.join(dir, 'a.yaml'), UPSTREAMS);
    writeFileSync(path.join(dir, 'b.yaml'), 'http:\n  - id: a\n    match: { path: /a\n    mode: legacy\n');
    const r = await loadRuleDir(dir);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors[0]).toMatchObject({ line: expect.any(Number), reason: expect.stringMatching(/^YAML: /) });
    expect(r.errors[0]!.file).toMatch(/b\.yaml$/);
  });

  it('warns when the last rule is not a catch-all', () => {
    const r = check(`http:
  - id: a
    match: { path: /a }
    mode: legacy
`);
    expect(r.ok).toBe(true);
    expect(r.warnings.map(formatIssue)).toEqual(['http.yaml:2:5: rule "a": the last rule is not a catch-all ("/**" for every method): unmatched requests get 404']);
  });

  it('checks shadow, comparison and gate settings', () => {
    const noTarget = errorsOf(`http:
  - id: a
    match: { path: /a }
    mode: shadow
${TAIL}`);
    expect(noTarget.map(formatIssue)).toEqual(['http.yaml:2:5: rule "a": mode "shadow" needs a "target" (the new service)']);

    const writes = check(`http:
  - id: w
    match: { methods: [GET, POST], path: /w }
    mode: shadow
    target: patient-service
    compare: { ignore: [/items/*/id], normalize: [timestamps, { kind: trim, paths: [/name] }], arrayKeys: { /items: id }, sampleRate: 0.5 }
    parity: { threshold: 0.995, minCompared: 500, window: 2h, gateAbovePercent: 10 }
${TAIL}`);
    expect(writes.ok).toBe(true);
    expect(writes.warnings.map((w) => w.reason)).toEqual(['POST requests are not shadowed (side effects); set "shadow.writes: true" only if the new service\'s writes are idempotent']);

    const canaryWrites = check(`http:
  - id: w
    match: { methods: [GET, POST], path: /w/:id }
    mode: canary
    percent: 20
    sticky: { param: id }
    target: patient-service
${TAIL}`);
    expect(canaryWrites.ok).toBe(true);
    expect(canaryWrites.warnings.map(formatIssue)).toEqual([
      expect.stringMatching(/^http\.yaml:4:5: rule "w", field "mode": POST requests go to "patient-service" for 20 % of keys: a service that is the system of record only in mode "new" refuses them \(503\)/),
    ]);
    const canary = (methods: string, percent: number) =>
      check(`http:
  - id: q
    match: { methods: ${methods}, path: /q/:id }
    mode: canary
    percent: ${percent}
    sticky: { param: id }
    target: patient-service
${TAIL}`);
    expect(canary('[GET, HEAD]', 20).warnings).toEqual([]);
    expect(canary('[POST]', 0).warnings).toEqual([]);

    const bad = errorsOf(`http:
  - id: b
    match: { path: /b }
    mode: shadow
    target: patient-service
    parity: { threshold: 1.5, window: 2 weeks }
${TAIL}`);
    expect(bad.map((e) => e.field).sort()).toEqual(['threshold', 'window']);
  });

});
