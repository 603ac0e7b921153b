/**
 * Runs wrk and reads its report: requests per second and latency percentiles.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface WrkResult {
  rps: number;
  /** requests completed in the run */
  requests: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  non2xx: number;
}

function toMs(value: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(value.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === 'us' ? n / 1000 : m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

export function parseWrk(out: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const p50 = /\s50%\s+(\S+)/.exec(out)?.[1];
  const p99 = /\s99%\s+(\S+)/.exec(out)?.[1];
  const err = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  return {
    rps,
    requests: Number(/(\d+) requests in /.exec(out)?.[1] ?? NaN),
    p50ms: p50 ? toMs(p50) : NaN,
    p99ms: p99 ? toMs(p99) : NaN,
    errors: err ? err.slice(1).reduce((s, v) => s + Number(v), 0) : 0,
    non2xx,
  };
}

/** A wrk Lua script that asks for a different patient on every request. */
export function writeMrnScript(dir: string): string {
  const file = path.join(dir, 'random-mrn.lua');
  writeFileSync(
    file,
    `math.randomseed(42)
request = function()
  return wrk.format("GET", "/api/patients/" .. math.random(100000, 199999))
end
`,
  );
  return file;
}

export async function wrk(url: string, opts: { seconds: number; connections: number; script?: string }): Promise<WrkResult> {
  const args = ['-t1', `-c${opts.connections}`, `-d${opts.seconds}s`, '--latency', ...(opts.script ? ['-s', opts.script] : []), url];
  const { stdout } = await run('wrk', args, { maxBuffer: 1 << 20 });
  return parseWrk(stdout);
}
