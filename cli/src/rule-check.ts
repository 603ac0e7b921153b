/**
 * `ficus rules validate`, done locally with the gateway's own validation (@ficus/contracts),
 * so that every issue points at file:line:column. A file that holds only one section is
 * checked together with the other section of the current rule set: HTTP rules need the
 * upstreams they name, and upstreams must still serve the rules that name them.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { loadRuleDir, parseRuleYaml, validateRuleDocuments, type RuleDocument, type RuleIssue, type ValidationOptions } from '@ficus/contracts/rules';
import type { CurrentRules } from './api-types.js';
import { CliFailure } from './failures.js';

export interface CheckResult {
  valid: boolean;
  /** the file or folder, as named in the issues */
  file: string;
  /** the current version whose other section was used, if any */
  checkedAgainst: number | null;
  errors: RuleIssue[];
  warnings: RuleIssue[];
  /** what a person should know about how it was checked */
  notes: string[];
}

/** The path as issues name it: relative to the current folder when inside it. */
export function displayName(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : path.resolve(file);
}

function sections(data: unknown): { upstreams: boolean; http: boolean } {
  const obj = typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
  return { upstreams: obj.upstreams !== undefined, http: obj.http !== undefined };
}

/**
 * Checks a rule file, or a whole rule folder. `current` fetches the current rule set; it is
 * called only for a file with one section, and if it fails the file is checked alone.
 */
export async function checkRules(target: string, current: () => Promise<CurrentRules>, options: ValidationOptions = {}): Promise<CheckResult> {
  const name = displayName(target);
  let isDir: boolean;
  try {
    isDir = (await stat(target)).isDirectory();
  } catch (e) {
    throw new CliFailure(`cannot read ${name}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : (e as Error).message}`);
  }
  if (isDir) {
    const r = await loadRuleDir(target, options);
    return { valid: r.ok, file: name, checkedAgainst: null, errors: r.ok ? [] : r.errors, warnings: r.warnings, notes: [`checked the folder as a whole rule set (${r.files.length} files)`] };
  }

  let text: string;
  try {
    text = await readFile(target, 'utf8');
  } catch (e) {
    throw new CliFailure(`cannot read ${name}: ${(e as Error).message}`);
  }
  const { doc, syntax } = parseRuleYaml(text, name);
  if (syntax.length) return { valid: false, file: name, checkedAgainst: null, errors: syntax, warnings: [], notes: [] };

  const has = sections(doc.data);
  const docs: RuleDocument[] = [doc];
  const notes: string[] = [];
  let checkedAgainst: number | null = null;
  if (has.upstreams !== has.http) {
    const missing = has.http ? 'upstreams' : 'HTTP rules';
    try {
      const r = await current();
      checkedAgainst = r.version;
      if (has.http) docs.unshift({ name: `(the upstreams of version ${r.version})`, data: { upstreams: r.upstreams } });
      else docs.push({ name: `(the HTTP rules of version ${r.version})`, data: { http: r.rules } });
      notes.push(`checked against the ${missing} of the current rule set, version ${r.version}`);
    } catch (e) {
      notes.push(`could not fetch the current ${missing} (${(e as Error).message}): checked the file alone`);
    }
  }
  const r = validateRuleDocuments(docs, options);
  return { valid: r.ok, file: name, checkedAgainst, errors: r.ok ? [] : r.errors, warnings: r.warnings, notes };
}
