/**
 * `writeBackMerge` of a topic in the mapping: how the legacy records a patient merge besides
 * the merge's own row, so that a merge a service writes back leaves the legacy as its own
 * ADT^A40 would. The stand-in's A40 (examples/legacy-his/src/hl7/adt-handlers.ts) moves the
 * merged-away patient's ADMISSION and LAB_RESULT rows to the survivor in the transaction that
 * inserts PATIENT_MERGE, and counts them there (ADM_CNT, RESULT_CNT, NOT NULL).
 *
 * A move may be `asLegacyChange`: its rows belong to another service (results, when
 * patient-service writes the merge back), which never wrote that move and must learn it, so
 * the capture passes it on as the legacy's own change rather than tagged as write-back.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { DocPath } from '@ficus/contracts';
import { FieldName, SqlName } from './names.js';

export const WriteBackMergeSchema = Type.Object(
  {
    /** the merge topic's field holding the survivor's key value */
    survivor: FieldName,
    /** the merge topic's field holding the merged-away patient's key value */
    merged: FieldName,
    /** the rows that follow the merged-away patient to the survivor */
    moves: Type.Array(
      Type.Object(
        {
          /** a table of another topic of the mapping */
          table: SqlName,
          /** its column naming the patient (mapped by that topic) */
          column: SqlName,
          /** the merge topic's field counting the rows moved: when the service leaves it null, the rows the writer moved */
          count: Type.Optional(FieldName),
          /** captured as the legacy's own change, not as the writing service's write-back (default false) */
          asLegacyChange: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
      { minItems: 1 },
    ),
  },
  { additionalProperties: false },
);

export type WriteBackMergeData = Static<typeof WriteBackMergeSchema>;

export interface MergeMove {
  /** as written in the file */
  table: string;
  column: string;
  count: string | undefined;
  asLegacyChange: boolean;
}

export interface MergeMapping {
  survivor: string;
  merged: string;
  moves: MergeMove[];
}

interface TopicFacts {
  table: string;
  fields: [string, string][];
}

/**
 * Checks a topic's `writeBackMerge` by meaning against the whole mapping (the moved tables are
 * other topics'); reports each problem at its path; answers the merge mapping.
 */
export function checkMergeMapping(data: WriteBackMergeData, own: TopicFacts, all: TopicFacts[], here: DocPath, at: (p: DocPath, reason: string) => void): MergeMapping {
  const ownFields = new Set(own.fields.map(([f]) => f));
  for (const key of ['survivor', 'merged'] as const) {
    if (!ownFields.has(data[key])) at([...here, key], `"${data[key]}" is not one of the topic's fields`);
  }
  const moved = new Set<string>();
  for (const [i, move] of data.moves.entries()) {
    const path = [...here, 'moves', i];
    if (move.count !== undefined && !ownFields.has(move.count)) at([...path, 'count'], `"${move.count}" is not one of the topic's fields`);
    const other = all.find((t) => t.table.toLowerCase() === move.table.toLowerCase());
    if (!other || other === own) {
      at([...path, 'table'], `table ${move.table} is not the table of another topic of the mapping: a move the capture does not see would reach no service`);
      continue;
    }
    if (!other.fields.some(([, column]) => column.toLowerCase() === move.column.toLowerCase())) at([...path, 'column'], `column ${move.column} is not mapped by the topic of table ${other.table}`);
    if (moved.has(other.table.toLowerCase())) at([...path, 'table'], `table ${move.table} is moved twice`);
    moved.add(other.table.toLowerCase());
  }
  return {
    survivor: data.survivor,
    merged: data.merged,
    moves: data.moves.map((m) => ({ table: m.table, column: m.column, count: m.count, asLegacyChange: m.asLegacyChange ?? false })),
  };
}
