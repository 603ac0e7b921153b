/**
 * Which rows carry a change of the service's own that the legacy has not yet been seen to hold
 * (a re-snapshot never withdraws them: the write-back may still bring the row to the legacy, and
 * withdrawing it would lose the service's change): a change still in the outbox, or a row whose
 * bookkeeping says so, in the table of the topic:
 *
 * - `local_changed_fields` not empty (fields noted by an API write or an HL7 message, not yet
 *   seen back: field-merge.ts);
 * - or a local change (`local_changed_at`) later than the last legacy change taken
 *   (`committed_source_at`) whose fields are not known (`local_fields_at` is not its stamp), or
 *   on a table that does not note fields.
 */
import { keyText } from '@ficus/contracts';
import type pg from 'pg';

export type PendingLocal = (keys: Record<string, unknown>[], tx: pg.PoolClient) => Promise<Set<string>>;

export interface PendingTable {
  table: string;
  keyColumn: string;
  /** the topic's key field (`mrn`, `resultId`) */
  keyField: string;
  /** the key column's SQL type for the array (`text`, `bigint`) */
  keyType: 'text' | 'bigint';
  /** the table notes which fields a local change made (local_changed_fields, local_fields_at) */
  notesFields: boolean;
}

/** Keys (keyText) of the topic with a change still in the outbox (published ones the table's bookkeeping covers until they are seen back). */
async function inOutbox(tx: pg.PoolClient, topic: string, keys: Record<string, unknown>[]): Promise<Set<string>> {
  const { rows } = await tx.query<{ key: Record<string, unknown> }>('SELECT DISTINCT key FROM ficus_outbox WHERE topic = $1 AND published_at IS NULL', [topic]);
  const wanted = new Set(keys.map(keyText));
  return new Set(rows.map((r) => keyText(r.key)).filter((k) => wanted.has(k)));
}

/** A feed's pendingLocal: its table's bookkeeping, and the outbox. */
export function pendingLocal(topic: string, t?: PendingTable): PendingLocal {
  return async (keys, tx) => {
    const pending = await inOutbox(tx, topic, keys);
    if (!t) return pending;
    const newerLocal = `r.local_changed_at IS NOT NULL AND (r.committed_source_at IS NULL OR r.local_changed_at > r.committed_source_at)`;
    const where = t.notesFields
      ? `cardinality(r.local_changed_fields) > 0 OR (${newerLocal} AND r.local_fields_at IS DISTINCT FROM r.local_changed_at)`
      : newerLocal;
    const { rows } = await tx.query<{ k: string }>(`SELECT r.${t.keyColumn}::text AS k FROM ${t.table} r WHERE r.${t.keyColumn} = ANY($1::${t.keyType}[]) AND (${where})`, [
      keys.map((k) => String(k[t.keyField])),
    ]);
    for (const r of rows) pending.add(keyText({ [t.keyField]: r.k }));
    return pending;
  };
}
