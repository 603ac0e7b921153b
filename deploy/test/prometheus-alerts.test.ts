/**
 * The shipped alerting rules (deploy/prometheus/ficus-alerts.yml): Prometheus's own promtool
 * (Debian's `prometheus` package, installed when missing and root) checks them and runs their
 * unit tests (each alert fires on series shaped like the deployables' metrics, only after its
 * `for`, and not on healthy ones); and every metric they name is one a Ficus deployable
 * registers, so a renamed metric cannot leave an alert that never fires.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureTools } from '../../scripts/lib/system-tools.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const RULES = path.join(ROOT, 'deploy/prometheus/ficus-alerts.yml');
const TESTS = path.join(ROOT, 'deploy/prometheus/ficus-alerts.test.yml');
const SOURCES = ['gateway/src', 'legacy-adapters', 'extracted-services', 'contracts/src'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    if (['node_modules', 'dist', 'test'].includes(name)) return [];
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

const promtool = (...args: string[]) => execFileSync('promtool', args, { cwd: ROOT, encoding: 'utf8', stdio: 'pipe' });

beforeAll(() => {
  ensureTools({ promtool: 'prometheus' });
}, 300_000);

describe('the alerting rules', () => {
  it('are valid rules, and their unit tests pass', () => {
    expect(promtool('check', 'rules', RULES)).toMatch(/SUCCESS: 17 rules found/);
    expect(promtool('test', 'rules', TESTS)).toContain('SUCCESS');
  });

  it('name only metrics a deployable registers, and every alert has a unit test', () => {
    const text = readFileSync(RULES, 'utf8');
    const expressions = [...text.matchAll(/^\s*expr: (.*)$/gm)].map((m) => m[1]!);
    const named = new Set(expressions.flatMap((e) => [...e.matchAll(/\b(ficus_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''))));
    const registered = new Set(
      SOURCES.flatMap((d) => sourceFiles(path.join(ROOT, d))).flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/['"](ficus_[a-z0-9_]+)['"]/g)].map((m) => m[1]!)),
    );
    expect(named.size).toBeGreaterThan(10);
    expect([...named].filter((n) => !registered.has(n))).toEqual([]);
    const alerts = [...text.matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
    const tested = new Set([...readFileSync(TESTS, 'utf8').matchAll(/alertname: (\w+)/g)].map((m) => m[1]!));
    expect(alerts.filter((a) => !tested.has(a))).toEqual([]);
  });
});
