/**
 * The Node flags a deployable's image runs it with (its CMD in the Dockerfile), so that a
 * benchmark measures what is shipped, not a copy of the flags that can drift.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

export function imageNodeFlags(script: string, dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')): string[] {
  for (const m of dockerfile.matchAll(/^CMD (\[.*\])\s*$/gm)) {
    const cmd = JSON.parse(m[1]!) as string[];
    if (cmd[0] === 'node' && cmd.at(-1) === script) return cmd.slice(1, -1);
  }
  throw new Error(`the Dockerfile has no CMD ["node", …, "${script}"]`);
}

/** The arguments for `node` that run a compiled deployable as its image does: its flags, then its script. */
export function asImageRuns(script: string): string[] {
  return [...imageNodeFlags(script), path.join(ROOT, script)];
}
