/**
 * `ficus rules validate`, done locally with the gateway's own validation (@ficus/contracts),
 * so that every issue points at file:line:column. A file that holds only one section is
 * checked together with the other section of the current rule set: HTTP rules need the
 * upstreams they name, and upstreams must still serve the rules that name them.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { loadRuleDir, parseRuleYaml, validateRuleDocuments, type RuleDocument, type RuleIssue, type RuleSet, type ValidationOptions } from '@ficus/contracts/rules';
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

/** The rule set the admin API serves, as the validation compares with it. */
export function servedRuleSet(r: CurrentRules): RuleSet {
  return { upstreams: r.upstreams, http: r.rules, ...(r.hl7.length > 0 ? { hl7: r.hl7 } : {}) };
}

/** What a person reads under issues that are routing a change would drop. */
export const REMOVAL_NOTE = 'the folder drops routing the current rules have; if that is meant, an admin applies it with `ficus rules import --allow-removal`';

function sections(data: unknown): { upstreams: boolean; http: boolean } {
  const obj = typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : {};
  return { upstreams: obj.upstreams !== undefined, http: obj.http !== undefined };
}

/**
 * Checks a rule file, or a whole rule folder. `current` fetches the current rule set: a file with
 * one section is checked with its other section, a folder is compared with it (routing-guard.ts);
 * if it fails, the file or folder is checked alone.
 */
export async function checkRules(target: string, current: () => Promise<CurrentRules>, given: ValidationOptions = {}): Promise<CheckResult> {
  // upstreams' certificate files are where the deployables run, not here: they check them when they apply the rules
  const options: ValidationOptions = { tlsFiles: false, ...given };
  const name = displayName(target);
  let isDir: boolean;
  try {
    isDir = (await stat(target)).isDirectory();
  } catch (e) {
    throw new CliFailure(`cannot read ${name}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or folder' : (e as Error).message}`);
  }
  if (isDir) {
    // a folder is what an import applies: compare it with the rules serving now, as the gateway will
    const notes: string[] = [];
    let served: CurrentRules | undefined;
    try {
      served = await current();
    } catch (e) {
      notes.push(`could not fetch the current rules (${(e as Error).message}): not compared with them`);
    }
    const r = await loadRuleDir(target, served ? { ...options, servingNow: servedRuleSet(served) } : options);
    notes.unshift(`checked the folder as a whole rule set (${r.files.length} files)${served ? `, compared with the current rule set, version ${served.version}` : ''}`);
    if (!r.ok && r.errors.some((e) => e.loss)) notes.push(REMOVAL_NOTE);
    return { valid: r.ok, file: name, checkedAgainst: served?.version ?? null, errors: r.ok ? [] : r.errors, warnings: r.warnings, notes };
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
