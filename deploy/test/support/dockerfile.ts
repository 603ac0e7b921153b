/**
 * Reading Dockerfiles the way the engine does, for the tests that check them without Docker:
 * instructions with continuation lines joined and comments dropped, split into stages.
 */
import { readFileSync } from 'node:fs';

export interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
export function instructions(file: string): Instruction[] {
  return readFileSync(file, 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

/** The instructions of the last stage (the image that runs). */
export function runtimeStage(ops: Instruction[]): Instruction[] {
  const from = ops.map((o) => o.op).lastIndexOf('FROM');
  return ops.slice(from + 1);
}

/** ENV instructions as variables (`K=V K2=V2` and the old `K V` form). */
export function envOf(ops: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const o of ops.filter((x) => x.op === 'ENV')) {
    if (!o.args.includes('=')) {
      const [k, ...v] = o.args.split(/\s+/);
      env[k!] = v.join(' ');
      continue;
    }
    for (const pair of o.args.split(/\s+/).filter(Boolean)) {
      const i = pair.indexOf('=');
      env[pair.slice(0, i)] = pair.slice(i + 1).replace(/^"(.*)"$/, '$1');
    }
  }
  return env;
}
