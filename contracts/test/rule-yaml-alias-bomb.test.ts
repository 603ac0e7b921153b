/**
 * A rule file that is a YAML alias bomb (a few lines that expand to millions of nodes) is
 * refused as an invalid file, with its name and the line of its first alias, like any other
 * YAML error: not an unexpected crash, and a file source keeps serving the rules it had.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { FileRuleSource } from '../src/rule-sources/file-source.js';
import { loadRuleDir, parseRuleYaml } from '../src/rules/load-files.js';
import type { RuleIssue, RuleSet } from '../src/rules/index.js';
import { ALIAS_BOMB, RULES } from './support/alias-bomb.js';

const UPSTREAMS = 'upstreams:\n  legacy: { url: "http://legacy:8000" }\n';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function ruleDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ficus-alias-bomb-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

describe('a YAML alias bomb in a rule file', () => {
  it('is a syntax issue of the file, at the line of its first alias', () => {
    const { doc, syntax } = parseRuleYaml(ALIAS_BOMB, 'bomb.yaml');
    expect(doc.data).toBeNull();
    expect(syntax).toEqual([{ file: 'bomb.yaml', line: 6, column: 10, pointer: '', reason: expect.stringMatching(/^YAML: Excessive alias count/) }]);
  });

  it('makes the folder invalid, naming the file', async () => {
    const r = await loadRuleDir(ruleDir({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': ALIAS_BOMB }));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual([expect.objectContaining({ file: expect.stringMatching(/10-http\.yaml$/), line: 6, reason: expect.stringMatching(/^YAML: Excessive alias count/) })]);
  });

  it('is refused by a file source, which keeps serving the rules it had', async () => {
    const dir = ruleDir({ '00-upstreams.yaml': UPSTREAMS, '10-http.yaml': RULES });
    const applied: RuleSet[] = [];
    const refused: RuleIssue[][] = [];
    const source = new FileRuleSource(dir, 600_000, pino({ level: 'silent' }), (rs) => applied.push(rs), (issues) => refused.push(issues));
    try {
      await source.load();
      writeFileSync(path.join(dir, '10-http.yaml'), ALIAS_BOMB);
      await source.reload();
      expect(applied).toHaveLength(1);
      expect(refused).toEqual([[expect.objectContaining({ file: expect.stringMatching(/10-http\.yaml$/), line: 6, reason: expect.stringMatching(/^YAML: Excessive alias count/) })]]);
      expect(source.status()).toMatchObject({ state: 'degraded' });
    } finally {
      await source.stop();
    }
  });
});
