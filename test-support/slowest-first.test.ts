import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { slowestFirst } from './slowest-first.js';

const ROOT = path.resolve(import.meta.dirname, '..');

describe('the slowest-first list', () => {
  it('names test files that exist, each once (a renamed file would silently run last again)', () => {
    const files = slowestFirst();
    expect(files.length).toBeGreaterThan(0);
    expect(new Set(files).size).toBe(files.length);
    for (const f of files) {
      expect(f, f).toMatch(/\.test\.ts$/);
      expect(existsSync(path.join(ROOT, f)), f).toBe(true);
    }
  });
});
