/**
 * The CDC mapping: which legacy tables and columns feed which topics, under which names. A YAML
 * file beside the routing rules (routing-rules/cdc/), checked like them: a JSON schema first,
 * then by meaning, every problem with file, line and column (the rule files' own reporting).
 * What needs the database (does the table exist, its columns) is checked by the source at start
 * against the same located document (mapping-check.ts).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import { describe, formatIssue, issue, parseRuleYaml, type DocPath, type RuleDocument, type RuleIssue } from '@ficus/contracts';
import { checkMergeMapping, WriteBackMergeSchema, type MergeMapping } from './merge-mapping.js';
import { FieldName, SqlName } from './names.js';

const Topic = Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$', description: 'lower-case letters, digits and dashes' });
const NewColumnPolicy = Type.Unsafe<'refuse' | 'ignore' | 'carry'>({ type: 'string', enum: ['refuse', 'ignore', 'carry'] });

const TopicSchema = Type.Object(
  {
    topic: Topic,
    table: SqlName,
    description: Type.Optional(Type.String()),
    /** the topic's key fields (names of `fields`) */
    key: Type.Array(FieldName, { minItems: 1 }),
    /** topic field name → legacy column */
    fields: Type.Record(Type.String(), SqlName, { minProperties: 1 }),
    /** columns of the table deliberately left out */
    ignore: Type.Optional(Type.Array(SqlName)),
    onNewColumn: Type.Optional(NewColumnPolicy),
    /** write-back events of this topic may change the legacy table (default true) */
    writeBack: Type.Optional(Type.Boolean()),
    /** how the legacy records a merge besides this topic's row (merge-mapping.ts) */
    writeBackMerge: Type.Optional(WriteBackMergeSchema),
  },
  { additionalProperties: false },
);

export const MappingFileSchema = Type.Object(
  {
    version: Type.Literal(1),
    cdc: Type.Object(
      {
        source: Topic,
        schema: Type.Optional(SqlName),
        onNewColumn: Type.Optional(NewColumnPolicy),
        topics: Type.Array(TopicSchema, { minItems: 1 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

type MappingFileData = Static<typeof MappingFileSchema>;
export type NewColumnPolicy = 'refuse' | 'ignore' | 'carry';

export interface TopicMapping {
  topic: string;
  /** as written in the file */
  table: string;
  key: string[];
  /** [field, column as written] in the file's order */
  fields: [string, string][];
  ignore: string[];
  onNewColumn: NewColumnPolicy;
  writeBack: boolean;
  /** what the legacy does besides this topic's row when a merge is written back */
  merge: MergeMapping | undefined;
  /** index in the file's topic list, to locate issues */
  index: number;
}

export interface CdcMapping {
  source: string;
  schema: string | undefined;
  topics: TopicMapping[];
  /** the parsed document, so that later checks (against the database) point into the file */
  doc: RuleDocument;
}

export class MappingError extends Error {
  constructor(readonly issues: RuleIssue[]) {
    super(`the CDC mapping is invalid:\n${issues.map((i) => '  ' + formatIssue(i)).join('\n')}`);
  }
}

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const checkSchema = ajv.compile(MappingFileSchema);

/** Legacy names compare without regard to case (PostgreSQL folds unquoted names, SQL Server's default collation ignores case). */
export const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/** Parses and validates a mapping text; throws MappingError with every issue located. */
export function parseMapping(text: string, name: string): CdcMapping {
  const { doc, syntax } = parseRuleYaml(text, name);
  if (syntax.length > 0) throw new MappingError(syntax);
  if (!checkSchema(doc.data)) {
    const issues = (checkSchema.errors ?? []).map((e) => {
      const d = describe(e);
      return issue(doc, d.path, d.reason);
    });
    throw new MappingError(dedupe(issues));
  }
  const data = doc.data as MappingFileData;
  const errors: RuleIssue[] = [];
  const at = (p: DocPath, reason: string) => errors.push(issue(doc, p, reason));
  const topics: TopicMapping[] = [];
  const topicSeen = new Map<string, number>();
  const tableSeen = new Map<string, number>();
  for (const [i, t] of data.cdc.topics.entries()) {
    const here: DocPath = ['cdc', 'topics', i];
    const before = topicSeen.get(t.topic);
    if (before !== undefined) at([...here, 'topic'], `topic "${t.topic}" is already fed by topics[${before}]`);
    else topicSeen.set(t.topic, i);
    const tableBefore = tableSeen.get(t.table.toLowerCase());
    if (tableBefore !== undefined) at([...here, 'table'], `table ${t.table} already feeds topics[${tableBefore}]; one table feeds one topic`);
    else tableSeen.set(t.table.toLowerCase(), i);
    const fields = Object.entries(t.fields);
    const columnSeen = new Map<string, string>();
    for (const [field, column] of fields) {
      if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(field)) at([...here, 'fields', field], `"${field}" is not a field name (letters, digits, underscore)`);
      const other = columnSeen.get(column.toLowerCase());
      if (other) at([...here, 'fields', field], `column ${column} is already mapped to field "${other}"`);
      else columnSeen.set(column.toLowerCase(), field);
    }
    for (const [k, field] of t.key.entries()) {
      if (!(field in t.fields)) at([...here, 'key', k], `key field "${field}" is not one of the topic's fields`);
      if (t.key.indexOf(field) !== k) at([...here, 'key', k], `key field "${field}" is named twice`);
    }
    for (const [k, column] of (t.ignore ?? []).entries()) {
      const mapped = columnSeen.get(column.toLowerCase());
      if (mapped) at([...here, 'ignore', k], `column ${column} is both ignored and mapped to field "${mapped}"`);
    }
    topics.push({
      topic: t.topic,
      table: t.table,
      key: t.key,
      fields,
      ignore: t.ignore ?? [],
      onNewColumn: t.onNewColumn ?? data.cdc.onNewColumn ?? 'refuse',
      writeBack: t.writeBack ?? true,
      merge: undefined,
      index: i,
    });
  }
  // the moved tables are other topics': checked once every topic is known
  const facts = data.cdc.topics.map((t) => ({ table: t.table, fields: Object.entries(t.fields) }));
  for (const [i, t] of data.cdc.topics.entries()) {
    if (t.writeBackMerge) topics[i]!.merge = checkMergeMapping(t.writeBackMerge, facts[i]!, facts, ['cdc', 'topics', i, 'writeBackMerge'], at);
  }
  if (errors.length > 0) throw new MappingError(errors);
  return { source: data.cdc.source, schema: data.cdc.schema, topics, doc };
}

export async function loadMapping(file: string): Promise<CdcMapping> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new MappingError([{ file, pointer: '', reason: `cannot read the mapping file: ${(e as Error).message}` }]);
  }
  const rel = path.relative(process.cwd(), file);
  return parseMapping(text, rel.startsWith('..') ? file : rel);
}

/** An issue located in the mapping's file (for the checks that need the database). */
export function mappingIssue(m: CdcMapping, p: DocPath, reason: string): RuleIssue {
  return issue(m.doc, p, reason);
}

function dedupe(issues: RuleIssue[]): RuleIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = formatIssue(i);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
