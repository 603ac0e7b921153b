/**
 * The guard every path that changes the served rules goes through: a change that leaves no
 * HTTP rules, no HL7 rules while some serve, or no catch-all while one serves, is refused with
 * a reason (and file:line where there is one) unless an admin allows it. And a rule file
 * written in steps is read once it has stopped changing, not half-written.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { FileRuleSource } from '../src/rule-sources/file-source.js';
import { formatIssue, parseRuleYaml, validateRuleDocuments, type RuleIssue, type RuleSet } from '../src/rules/index.js';

const UPSTREAMS = 'upstreams:\n  legacy: { url: "http://legacy:8000" }\n  legacy-hl7: { url: "mllp://legacy:2575" }\n  patient-service: { url: "http://patient-service:8101" }\n';
const READ = '  - id: patients-read\n    match: { methods: [GET], path: /api/patients/:mrn }\n    mode: legacy\n    target: patient-service\n';
const CATCH_ALL = '  - id: legacy-default\n    match: { path: /** }\n    mode: legacy\n';
const HTTP = `http:\n${READ}${CATCH_ALL}`;
const HL7 = 'hl7:\n  - id: adt\n    match: { messageTypes: [ADT] }\n    mode: legacy\n  - id: hl7-default\n    match: {}\n    mode: legacy\n';

const served = (files: Record<string, string>): RuleSet => {
  const r = validateRuleDocuments(Object.entries(files).map(([name, text]) => parseRuleYaml(text, name).doc));
  if (!r.ok) throw new Error(r.errors.map(formatIssue).join('\n'));
  return r.ruleSet;
};
const NOW = served({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': HTTP, '20-hl7.yaml': HL7 });

function check(files: Record<string, string>, servingNow: RuleSet = NOW, allowRemoval = false) {
  return validateRuleDocuments(
    Object.entries(files).map(([name, text]) => parseRuleYaml(text, name).doc),
    { servingNow, allowRemoval },
  );
}
const errorsOf = (r: ReturnType<typeof check>): string[] => (r.ok ? [] : r.errors.map(formatIssue));

describe('the routing guard', () => {
  it('refuses a change that leaves no HTTP rules (10-http.yaml deleted), and lets an admin allow it as a warning', () => {
    const r = check({ '00-upstreams.yaml': UPSTREAMS, '20-hl7.yaml': HL7 });
    expect(errorsOf(r)).toEqual(['/http: the change leaves no HTTP rules (2 serve now): every request would get 404']);
    const allowed = check({ '00-upstreams.yaml': UPSTREAMS, '20-hl7.yaml': HL7 }, NOW, true);
    expect(allowed.ok).toBe(true);
    expect(allowed.warnings.filter((w) => w.loss).map(formatIssue)).toEqual(['/http: the change leaves no HTTP rules (2 serve now): every request would get 404']);
    // said once: not also as the plain "no HTTP rules" warning
    expect(allowed.warnings.map((w) => w.reason)).not.toContain('no HTTP rules: every request gets 404');
  });

  it('refuses a change that leaves no HL7 rules while some serve (20-hl7.yaml deleted or emptied)', () => {
    for (const hl7 of [undefined, 'hl7: []\n', '']) {
      const files: Record<string, string> = { '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': HTTP, ...(hl7 !== undefined ? { '20-hl7.yaml': hl7 } : {}) };
      expect(errorsOf(check(files))).toEqual(['/hl7: the change leaves no HL7 rules (2 serve now): every HL7 message would be refused (AR), and senders treat AR as final']);
    }
    // a deployment that never routed HL7 goes on without it
    const httpOnly = served({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': HTTP });
    expect(check({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': HTTP }, httpOnly).ok).toBe(true);
  });

  it('refuses a change that removes the catch-all serving now, or narrows it (at its file:line); a renamed one is fine', () => {
    const removed = check({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': `http:\n${READ}`, '20-hl7.yaml': HL7 });
    expect(errorsOf(removed)).toEqual([
      '/http: rule "legacy-default": the change removes the catch-all ("/**" for every method) that serves now: requests no other rule takes would get 404',
    ]);
    const narrowed = check({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': HTTP.replace('match: { path: /** }', 'match: { methods: [GET], path: /** }'), '20-hl7.yaml': HL7 });
    expect(errorsOf(narrowed)).toEqual([
      '10-http.yaml:7:5: rule "legacy-default": no longer takes every request, but it is the catch-all ("/**" for every method) that serves now: requests no other rule takes would get 404',
    ]);
    const renamed = check({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': HTTP.replace('legacy-default', 'everything-else'), '20-hl7.yaml': HL7 });
    expect(renamed.ok).toBe(true);
    // without a catch-all serving now there is none to lose
    const none = served({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': `http:\n${READ}` });
    expect(check({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': `http:\n${READ}` }, none).ok).toBe(true);
  });

  it('says nothing when the change loses nothing, and nothing without the rules serving now (a first load)', () => {
    expect(check({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': HTTP.replace('mode: legacy\n    target', 'mode: new\n    target'), '20-hl7.yaml': HL7 }).ok).toBe(true);
    const first = validateRuleDocuments([parseRuleYaml(UPSTREAMS, 'u.yaml').doc, parseRuleYaml(`http:\n${READ}`, 'h.yaml').doc]);
    expect(first.ok).toBe(true);
  });
});

describe('a rule folder served as it is (FICUS_RULES_SOURCE=files)', () => {
  const silent = pino({ level: 'silent' });
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function folder(files: Record<string, string>, settleMs = 50) {
    const dir = mkdtempSync(path.join(tmpdir(), 'ficus-guard-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    for (const [f, text] of Object.entries(files)) writeFileSync(path.join(dir, f), text);
    const applied: RuleSet[] = [];
    const refused: RuleIssue[][] = [];
    const source = new FileRuleSource(dir, 600_000, silent, (rs) => applied.push(rs), (issues) => refused.push(issues), {}, settleMs);
    cleanup.push(() => source.stop());
    await source.load();
    return { dir, source, applied, refused };
  }

  it('refuses to drop the HL7 rules (20-hl7.yaml deleted), naming the file, and keeps serving them', async () => {
    const f = await folder({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': HTTP, '20-hl7.yaml': HL7 });
    rmSync(path.join(f.dir, '20-hl7.yaml'));
    await f.source.reload();
    expect(f.refused.at(-1)?.map(formatIssue)).toEqual([
      expect.stringMatching(/20-hl7\.yaml: deleted: the change leaves no HL7 rules \(2 serve now\): every HL7 message would be refused \(AR\)/),
    ]);
    expect(f.applied).toHaveLength(1);
    expect(f.source.status().state).toBe('degraded');
  });

  it('refuses to drop the catch-all, naming where it was', async () => {
    const f = await folder({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': HTTP });
    writeFileSync(path.join(f.dir, '10-http.yaml'), `http:\n${READ}`);
    await f.source.reload();
    expect(f.refused.at(-1)?.map(formatIssue)).toEqual([expect.stringMatching(/10-http\.yaml:6:5: rule "legacy-default": the change removes the catch-all \("\/\*\*" for every method\) that serves now/)]);
    expect(f.applied).toHaveLength(1);
  });

  it('does not apply a file its writer paused in the middle of: it waits until the files stop changing', async () => {
    const results = '  - id: results-read\n    match: { methods: [GET], path: /api/results/:id }\n    mode: legacy\n';
    const f = await folder({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': `http:\n${READ}${results}` }, 400);
    f.source.start();
    const file = path.join(f.dir, '10-http.yaml');
    // the first half is a valid rule set on its own (patients-read moved to new, results-read gone)
    writeFileSync(file, `http:\n${READ.replace('mode: legacy', 'mode: new')}`);
    await sleep(200);
    appendFileSync(file, results);
    const since = Date.now();
    while (f.applied.length < 2) {
      expect(Date.now() - since, 'the finished file was not applied').toBeLessThan(5_000);
      await sleep(20);
    }
    await sleep(600);
    expect(f.applied.slice(1).map((rs) => rs.http.map((r) => `${r.id} ${r.mode}`))).toEqual([['patients-read new', 'results-read legacy']]);
  });
});
