/**
 * Reads rule files (`*.yaml`, `*.yml`) from a folder, in name order, and validates them as one
 * rule set. Every problem comes back with its file, line and column.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import { validateRuleDocuments, type DocPath, type Position, type RuleDocument, type RuleIssue, type ValidationOptions, type ValidationResult } from './validate.js';

export const RULE_FILE = /\.ya?ml$/i;

/** A rule file as messages name it: relative to the working folder when inside it. */
export function displayName(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

/** Parses one YAML text into a rule document that can locate paths, or into syntax issues. */
export function parseRuleYaml(text: string, name: string): { doc: RuleDocument; syntax: RuleIssue[] } {
  const lineCounter = new LineCounter();
  const yamlDoc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const syntax: RuleIssue[] = yamlDoc.errors.map((e) => {
    const pos = lineCounter.linePos(e.pos[0]);
    return { file: name, line: pos.line, column: pos.col, pointer: '', reason: `YAML: ${e.message.split('\n')[0]}` };
  });

  const locate = (docPath: DocPath): Position => {
    let node: unknown = yamlDoc.contents;
    let offset = (node as Node | null)?.range?.[0] ?? 0;
    for (const key of docPath) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === key);
        if (!pair) break;
        offset = (pair.key as Node | null)?.range?.[0] ?? offset;
        node = pair.value;
      } else if (isSeq(node) && typeof key === 'number' && node.items[key]) {
        node = node.items[key];
        offset = (node as Node).range?.[0] ?? offset;
      } else {
        break;
      }
    }
    const pos = lineCounter.linePos(offset);
    return { file: name, line: pos.line, column: pos.col };
  };
  const data = syntax.length > 0 ? null : (yamlDoc.toJS({ maxAliasCount: 100 }) as unknown);
  return { doc: { name, data, locate }, syntax };
}

/**
 * The rule files of a folder, in name order. Dot files are left out: editors' swap files, and
 * a Kubernetes ConfigMap volume's own entries (`..data`, `..2026_12_06_…`). A ConfigMap volume
 * presents each key as a symbolic link (`10-http.yaml -> ..data/10-http.yaml`), so links are
 * followed; a link to a folder is not a rule file, and a dangling one is kept so that reading
 * it fails with its name rather than the rules loading without it.
 */
export async function listRuleFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.') || !RULE_FILE.test(e.name)) continue;
    const file = path.join(dir, e.name);
    if (e.isFile() || (e.isSymbolicLink() && (await linkedFile(file)))) files.push(file);
  }
  return files.sort();
}

async function linkedFile(link: string): Promise<boolean> {
  try {
    return (await stat(link)).isFile();
  } catch {
    return true;
  }
}

const holdsHttpRules = (data: unknown): boolean => typeof data === 'object' && data !== null && Array.isArray((data as { http?: unknown }).http) && (data as { http: unknown[] }).http.length > 0;

/**
 * Reads and validates every rule file in `dir`. A missing folder is an error, not an empty set.
 * `httpFiles`: the files that hold HTTP rules.
 */
export async function loadRuleDir(dir: string, options: ValidationOptions = {}): Promise<ValidationResult & { files: string[]; httpFiles: string[] }> {
  let files: string[];
  try {
    files = await listRuleFiles(dir);
  } catch (e) {
    const reason = `cannot read the rule folder: ${(e as Error).message}`;
    return { ok: false, errors: [{ file: displayName(dir), pointer: '', reason }], warnings: [], files: [], httpFiles: [] };
  }
  if (files.length === 0) {
    return { ok: false, errors: [{ file: displayName(dir), pointer: '', reason: 'no rule files (*.yaml) in this folder' }], warnings: [], files, httpFiles: [] };
  }
  const docs: RuleDocument[] = [];
  const syntax: RuleIssue[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      // a dangling link, or a file gone since the listing
      syntax.push({ file: displayName(file), pointer: '', reason: `cannot read the rule file: ${(e as Error).message}` });
      docs.push({ name: displayName(file), data: null, locate: () => ({ file: displayName(file) }) });
      continue;
    }
    const parsed = parseRuleYaml(text, displayName(file));
    syntax.push(...parsed.syntax);
    docs.push(parsed.doc);
  }
  const httpFiles = files.filter((_, i) => holdsHttpRules(docs[i]!.data));
  if (syntax.length > 0) return { ok: false, errors: syntax, warnings: [], files, httpFiles };
  return { ...validateRuleDocuments(docs, options), files, httpFiles };
}
