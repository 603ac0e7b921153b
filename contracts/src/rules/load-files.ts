/**
 * Reads rule files (`*.yaml`, `*.yml`) from a folder, in name order, and validates them as one
 * rule set. Every problem comes back with its file, line and column.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Node } from 'yaml';
import type { RuleSet } from './model.js';
import { isCatchAll } from './routing-guard.js';
import { validateRuleDocuments, type DocPath, type Position, type RuleDocument, type RuleIssue, type ValidationOptions, type ValidationResult } from './validate.js';

export const RULE_FILE = /\.ya?ml$/i;

/** A rule file as messages name it: relative to the working folder when inside it. */
export function displayName(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

/** The parser's message, in the terms of a rule file where the parser speaks to a programmer. */
function syntaxReason(code: string, message: string): string {
  if (code === 'MULTIPLE_DOCS') return 'a second document ("---") in one file: a rule file holds one document; put the second in a file of its own';
  return message.split('\n')[0]!;
}

/** Parses one YAML text into a rule document that can locate paths, or into syntax issues. */
export function parseRuleYaml(text: string, name: string): { doc: RuleDocument; syntax: RuleIssue[] } {
  const lineCounter = new LineCounter();
  // merge keys (`<<: *defaults`) are YAML 1.1, but Kubernetes and Compose files use them, and
  // the people who write rule files write those too: without them, "<<" was an unknown field
  const yamlDoc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, merge: true });
  const syntax: RuleIssue[] = yamlDoc.errors.map((e) => {
    const pos = lineCounter.linePos(e.pos[0]);
    return { file: name, line: pos.line, column: pos.col, pointer: '', reason: `YAML: ${syntaxReason(e.code, e.message)}` };
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
  let data: unknown = null;
  if (syntax.length === 0) {
    try {
      data = yamlDoc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      // an alias bomb ("Excessive alias count …"): refused as the file's error, at its first alias
      let at = 0;
      visit(yamlDoc, { Alias: (_, node) => ((at = node.range?.[0] ?? 0), visit.BREAK) });
      const pos = lineCounter.linePos(at);
      syntax.push({ file: name, line: pos.line, column: pos.col, pointer: '', reason: `YAML: ${(e as Error).message.split('\n')[0]}` });
    }
  }
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

const rulesIn = (data: unknown, section: 'http' | 'hl7'): unknown[] => {
  const list = typeof data === 'object' && data !== null ? (data as Record<string, unknown>)[section] : undefined;
  return Array.isArray(list) ? list : [];
};

/** Where the HTTP catch-all is (file:line), for a refusal that removes it after the file changed. */
function catchAllIn(docs: RuleDocument[], ruleSet: RuleSet): Position | undefined {
  const rule = ruleSet.http.find(isCatchAll);
  if (!rule) return undefined;
  for (const doc of docs) {
    const index = rulesIn(doc.data, 'http').findIndex((r) => (r as { id?: unknown }).id === rule.id);
    if (index >= 0) return doc.locate?.(['http', index]) ?? { file: doc.name };
  }
  return undefined;
}

export interface RuleDirPlaces {
  files: string[];
  /** the files that hold HTTP rules, and HL7 rules */
  httpFiles: string[];
  hl7Files: string[];
  /** where the HTTP catch-all is, when the rules are valid and have one */
  catchAllAt?: Position;
}

/** Reads and validates every rule file in `dir`. A missing folder is an error, not an empty set. */
export async function loadRuleDir(dir: string, options: ValidationOptions = {}): Promise<ValidationResult & RuleDirPlaces> {
  let files: string[];
  try {
    files = await listRuleFiles(dir);
  } catch (e) {
    const reason = `cannot read the rule folder: ${(e as Error).message}`;
    return { ok: false, errors: [{ file: displayName(dir), pointer: '', reason }], warnings: [], files: [], httpFiles: [], hl7Files: [] };
  }
  if (files.length === 0) {
    return { ok: false, errors: [{ file: displayName(dir), pointer: '', reason: 'no rule files (*.yaml) in this folder' }], warnings: [], files, httpFiles: [], hl7Files: [] };
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
  const httpFiles = files.filter((_, i) => rulesIn(docs[i]!.data, 'http').length > 0);
  const hl7Files = files.filter((_, i) => rulesIn(docs[i]!.data, 'hl7').length > 0);
  if (syntax.length > 0) return { ok: false, errors: syntax, warnings: [], files, httpFiles, hl7Files };
  const result = validateRuleDocuments(docs, options);
  const catchAllAt = result.ok ? catchAllIn(docs, result.ruleSet) : undefined;
  return { ...result, files, httpFiles, hl7Files, ...(catchAllAt ? { catchAllAt } : {}) };
}
