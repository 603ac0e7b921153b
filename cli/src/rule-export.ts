/**
 * A rule set written as the files of a rule folder (`00-upstreams.yaml`, `10-http.yaml`, and
 * `20-hl7.yaml` when it has HL7 rules),
 * in the layout of routing-rules/, so that `ficus rules import` of the folder reads back the
 * same rule set. Each file starts with a marker comment: a file without it was written by a
 * person, and is not overwritten unless asked.
 */
import { readFile, rename, writeFile, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { RULE_FILE } from '@ficus/contracts/rules';
import type { CurrentRules } from './api-types.js';
import { CliFailure } from './failures.js';
import { toYaml } from './rule-yaml.js';

export const EXPORT_MARKER = '# ficus export:';
export const UPSTREAMS_FILE = '00-upstreams.yaml';
export const HTTP_FILE = '10-http.yaml';
export const HL7_FILE = '20-hl7.yaml';

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

export function exportTexts(r: CurrentRules, adminUrl: string): Record<string, string> {
  const header = (what: string) =>
    [
      ` ficus export: ${what} of rule set version ${r.version}, from ${adminUrl}`,
      ` version ${r.version} by ${oneLine(r.author)} at ${r.createdAt}: "${oneLine(r.reason)}"`,
      ' `ficus rules import <folder>` applies this folder as a whole; edit, review, then import.',
    ].join('\n');
  return {
    [UPSTREAMS_FILE]: toYaml({ upstreams: r.upstreams }, header('the upstreams')),
    [HTTP_FILE]: toYaml({ http: r.rules }, header('the HTTP rules')),
    // an empty HL7 section stays out, so a rule set without one exports as it was written
    ...(r.hl7?.length ? { [HL7_FILE]: toYaml({ hl7: r.hl7 }, header('the HL7 rules')) } : {}),
  };
}

/**
 * The version a folder of exported files was made from: the oldest one their headers name (a
 * folder exported twice may keep a file of the first export). Undefined when no file has the
 * header (written by a person).
 */
export async function exportedFrom(files: string[]): Promise<number | undefined> {
  const versions: number[] = [];
  for (const file of files) {
    const m = /^# ficus export: .* of rule set version (\d+),/.exec((await firstLine(file)) ?? '');
    if (m) versions.push(Number(m[1]));
  }
  return versions.length > 0 ? Math.min(...versions) : undefined;
}

async function firstLine(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).split('\n', 1)[0];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliFailure(`cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * Writes the files into `dir` (made if missing). Refuses, before writing anything, to replace
 * a file that an earlier export did not write, unless `force`. Answers the written paths and
 * the other rule files in the folder (an import would read those too).
 */
export async function writeExport(dir: string, texts: Record<string, string>, force: boolean): Promise<{ written: string[]; others: string[] }> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new CliFailure(`cannot make the folder ${dir}: ${(e as Error).message}`);
  }
  const targets = Object.keys(texts).map((name) => path.join(dir, name));
  if (!force) {
    const foreign: string[] = [];
    for (const file of targets) {
      const line = await firstLine(file);
      if (line !== undefined && !line.startsWith(EXPORT_MARKER)) foreign.push(file);
    }
    if (foreign.length) {
      throw new CliFailure(`not overwriting ${foreign.join(', ')}: not written by \`ficus rules export\``, [
        'export into an empty folder, or pass --force to replace them (other files are never touched)',
      ]);
    }
  }
  for (const [name, text] of Object.entries(texts)) {
    const file = path.join(dir, name);
    // write beside, then rename: a reader (or a gateway watching the folder) never sees half a file
    const temp = path.join(dir, `.${name}.${process.pid}.tmp`);
    try {
      await writeFile(temp, text);
      await rename(temp, file);
    } catch (e) {
      throw new CliFailure(`cannot write ${file}: ${(e as Error).message}`);
    }
  }
  const others = (await readdir(dir)).filter((f) => RULE_FILE.test(f) && !f.startsWith('.') && !(f in texts)).sort();
  return { written: targets, others };
}
