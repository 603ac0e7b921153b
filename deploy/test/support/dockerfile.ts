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

interface Stage {
  name: string | undefined;
  /** the image or the earlier stage it starts from */
  base: string;
  ops: Instruction[];
}

export function stages(ops: Instruction[]): Stage[] {
  const out: Stage[] = [];
  for (const op of ops) {
    if (op.op === 'FROM') {
      const [base, as, name] = op.args.split(/\s+/);
      out.push({ base: base!, name: as?.toUpperCase() === 'AS' ? name : undefined, ops: [op] });
    } else out.at(-1)?.ops.push(op);
  }
  return out;
}

/**
 * What an image is made of: the instructions of its build target (the last stage without one)
 * after those of the stages it starts from, FROM lines included: `FROM node… AS manifests`,
 * its COPYs, `FROM manifests AS runtime`, …, `FROM runtime AS gateway`, its instructions.
 */
export function imageInstructions(file: string, target?: string): Instruction[] {
  const all = stages(instructions(file));
  const chain: Stage[] = [];
  let stage = target ? all.find((s) => s.name === target) : all.at(-1);
  if (!stage) throw new Error(`${file}: no stage ${target}`);
  while (stage) {
    chain.unshift(stage);
    const base: string = stage.base;
    stage = all.find((s) => s.name === base);
  }
  return chain.flatMap((s) => s.ops);
}

/** An image's build, as docker-compose.yml names it. */
export interface Build {
  context: string;
  dockerfile: string;
  target?: string;
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
