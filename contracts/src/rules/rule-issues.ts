/**
 * Issues found in rule documents, located: file, line and column when the document came from
 * a file, a JSON pointer always, and the rule id and field when there is one.
 */
import type { ErrorObject } from 'ajv';
import type { RoutingLossKind } from './routing-guard.js';

export type DocPath = (string | number)[];

export interface Position {
  file?: string;
  line?: number;
  column?: number;
}

export interface RuleIssue extends Position {
  /** where in the document, as a JSON pointer (`/http/3/mode`) */
  pointer: string;
  ruleId?: string;
  field?: string;
  reason: string;
  /** set when the issue is routing the change would lose (routing-guard.ts) */
  loss?: RoutingLossKind;
}

export interface RuleDocument {
  /** the file name (or another label) used in messages */
  name?: string;
  data: unknown;
  /** maps a path inside `data` to a file position, when the document came from a file */
  locate?: (path: DocPath) => Position;
}

export function pointerToPath(pointer: string): DocPath {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

export function pathToPointer(path: DocPath): string {
  return path.map((p) => '/' + String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/** An Ajv schema error, in words an integration engineer reads. */
export function describe(err: ErrorObject): { path: DocPath; reason: string } {
  const path = pointerToPath(err.instancePath);
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'additionalProperties':
      return { path: [...path, String(params.additionalProperty)], reason: `unknown field "${String(params.additionalProperty)}"` };
    case 'required':
      return { path, reason: `missing required field "${String(params.missingProperty)}"` };
    case 'enum':
      return { path, reason: `must be one of ${(params.allowedValues as unknown[]).join(', ')}` };
    case 'pattern': {
      const schema = err.parentSchema as { description?: string } | undefined;
      return { path, reason: `does not match ${schema?.description ?? `the pattern ${String(params.pattern)}`}` };
    }
    case 'minProperties':
    case 'maxProperties':
      return { path, reason: 'a predicate has exactly one of "equals", "regex" or "present"' };
    default:
      return { path, reason: err.message ?? err.keyword };
  }
}

export interface Collector {
  errors: RuleIssue[];
  warnings: RuleIssue[];
}

export function issue(doc: RuleDocument, path: DocPath, reason: string, ruleId?: string): RuleIssue {
  const position = doc.locate?.(path) ?? {};
  const field = [...path].reverse().find((p) => typeof p === 'string');
  const out: RuleIssue = { ...position, pointer: pathToPointer(path), reason };
  if (!out.file && doc.name) out.file = doc.name;
  if (ruleId) out.ruleId = ruleId;
  if (field && !(path.length === 2 && (path[0] === 'http' || path[0] === 'hl7'))) out.field = String(field);
  return out;
}

export function ruleIdAt(data: unknown, path: DocPath): string | undefined {
  if ((path[0] !== 'http' && path[0] !== 'hl7') || typeof path[1] !== 'number') return undefined;
  const rules = (data as Record<string, unknown[] | undefined> | null)?.[path[0]];
  const rule = Array.isArray(rules) ? (rules[path[1]] as { id?: unknown } | undefined) : undefined;
  return typeof rule?.id === 'string' ? rule.id : undefined;
}

/** " (file:line)" of a rule, for messages that point at another rule */
export function placeOf(doc: RuleDocument, section: 'http' | 'hl7', index: number): string {
  const pos = doc.locate?.([section, index]);
  const file = pos?.file ?? doc.name;
  return file ? ` (${file}${pos?.line ? `:${pos.line}` : ''})` : '';
}

/** `routing-rules/10-http.yaml:12:5: rule "patients-read", field "mode": must be one of ...` */
export function formatIssue(i: RuleIssue): string {
  const where = i.file ? `${i.file}${i.line ? `:${i.line}${i.column ? `:${i.column}` : ''}` : ''}: ` : i.pointer ? `${i.pointer}: ` : '';
  const what = [i.ruleId ? `rule "${i.ruleId}"` : '', i.field ? `field "${i.field}"` : ''].filter(Boolean).join(', ');
  return `${where}${what ? `${what}: ` : ''}${i.reason}`;
}
