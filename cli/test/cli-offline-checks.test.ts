/**
 * What `ficus` refuses before (or without) the admin API: a canary percent that is not a plain
 * decimal, 0-100 (what Number() would also take: hex, exponents, signs) is a usage error, exit 2;
 * a rule file that is a YAML alias bomb is an invalid file with file:line, exit 1, not a crash.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { ALIAS_BOMB } from '../../contracts/test/support/alias-bomb.js';
import { percent } from '../src/option-parsers.js';
import { ficusRunner, type Run } from './support/cli-scene.js';

const home = mkdtempSync(path.join(tmpdir(), 'ficus-cli-offline-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('--percent', () => {
  it('takes plain decimals from 0 to 100, with at most two decimals and an optional %', () => {
    expect(['0', '20', '12.5', '0.01', '100', '20%', ' 7 '].map(percent)).toEqual([0, 20, 12.5, 0.01, 100, 20, 7]);
  });

  it.each(['0x10', '1e1', '0b1', '0o7', '+5', '-0', '', ' ', '.5', '5.', 'Infinity', '100.01', '101', '1,5', '12.345'])('refuses %j', (value) => {
    expect(() => percent(value)).toThrow(InvalidArgumentError);
  });

  it('is a usage error (exit 2) naming the value, before the admin API is asked', async () => {
    // port 9 never answers: a value let through would end in "cannot reach", exit 1
    const ficus = ficusRunner('http://127.0.0.1:9', home, [] as Run[]);
    for (const value of ['0x10', '1e1']) {
      const r = await ficus(['rules', 'flip', 'patients-read', '--mode', 'canary', '--percent', value, '--reason', 'pilot']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(`"${value}" is not a percent between 0 and 100`);
    }
  });
});

describe('a YAML alias bomb in a rule file', () => {
  it('is an invalid file with file:line, exit 1, when `rules validate` checks the file or its folder', async () => {
    const dir = path.join(home, 'rules');
    const ficus = ficusRunner('http://127.0.0.1:9', home, [] as Run[]);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'bomb.yaml'), ALIAS_BOMB);
    const runs = await Promise.all([ficus(['rules', 'validate', 'bomb.yaml'], { cwd: dir }), ficus(['rules', 'validate', '.'], { cwd: dir })]);
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout + r.stderr).toMatch(/bomb\.yaml:6:10: YAML: Excessive alias count/);
      expect(r.stderr).not.toContain('unexpected error');
    }
  });
});
