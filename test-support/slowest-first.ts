/**
 * Runs the suite's known slowest files first. Vitest orders a file it has no timing for by
 * size, and a fresh clone (CI) has no timings at all: the slowest files (the whole demo started
 * and stopped, the images' entry points, the migration story, which run for one to two minutes
 * each) fell at the end, where one of the two workers ran them alone while the other sat idle.
 * Longest first lets the many short files fill in beside them. The list is from a fresh-clone
 * run's per-file durations (slowest first); a file not listed keeps vitest's own order after them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const LIST = path.join(import.meta.dirname, 'slowest-test-files.txt');

export function slowestFirst(): string[] {
  return readFileSync(LIST, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

export default class SlowestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = new Map(slowestFirst().map((f, i) => [f, i]));
    const root = this.ctx.config.root;
    const rankOf = (f: TestSpecification) => rank.get(path.relative(root, f.moduleId).split(path.sep).join('/')) ?? Number.MAX_SAFE_INTEGER;
    // stable: files not listed keep vitest's order
    return sorted.map((f, i) => ({ f, i, r: rankOf(f) })).sort((a, b) => a.r - b.r || a.i - b.i).map((x) => x.f);
  }
}
