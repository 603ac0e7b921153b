/**
 * What the legacy writer last wrote to each field of a row (`ficus_writeback_positions.written`,
 * migrations/cdc-writeback/003), for the fields a write-back's before image leaves out: the
 * service does not know their legacy value, because it has not yet seen an earlier write-back
 * of them land. That write-back may never land (dead-lettered for good, its job removed), and
 * then only a later one can give the legacy the service's value; but it may also have landed,
 * and a legacy screen may have edited the field since, an edit the service will take when it
 * reads it. So such a field is written only where the legacy still holds what the writer last
 * wrote there, or the writer never wrote it (any edit there was made without the service's
 * value, which wins), and where the value differs (an equal write would still stamp the row).
 */
import type pg from 'pg';
import { keyText, type ChangeEvent } from '@ficus/contracts';
import { quoteIdent } from '../postgres/replication-connection.js';

type Row = Record<string, unknown>;

const POSITION = 'service = $1 AND topic = $2 AND key = $3';
const positionOf = (service: string, e: ChangeEvent) => [service, e.topic, keyText(e.key)];

/** JSON values as query parameters: objects (json columns) as their JSON text, the rest as they are. */
export function param(v: unknown): unknown {
  return v !== null && typeof v === 'object' ? JSON.stringify(v) : v;
}

/** What the writer last wrote to the row's fields; null when not known (a row claimed before migration 003) or never claimed. */
export async function writtenTo(client: pg.ClientBase, service: string, e: ChangeEvent): Promise<Row | null> {
  const { rows } = await client.query<{ written: Row | null }>(`SELECT written FROM ficus_writeback_positions WHERE ${POSITION}`, positionOf(service, e));
  return rows[0]?.written ?? null;
}

/**
 * The left-out fields (`unknown`) to write now: those the legacy row (locked) holds as the writer
 * last wrote them, or that it never wrote, and that differ from the change's value. None when
 * what the writer wrote is not known (a row claimed before migration 003) or the row is not there.
 */
export async function fieldsStillOurs(client: pg.ClientBase, service: string, e: ChangeEvent, columns: Map<string, string>, table: string, where: string, keyValues: unknown[], unknown: string[]): Promise<string[]> {
  if (unknown.length === 0) return [];
  const written = await writtenTo(client, service, e);
  if (!written) return [];
  const params: unknown[] = [...keyValues];
  const at = (v: unknown) => `$${params.push(param(v))}`;
  const tests = unknown.map((f, i) => {
    const c = quoteIdent(columns.get(f)!);
    const ours = Object.hasOwn(written, f) ? `${c} IS NOT DISTINCT FROM ${at(written[f])}` : 'true';
    return `(${ours} AND ${c} IS DISTINCT FROM ${at(e.after![f])}) AS "${i}"`;
  });
  const row = (await client.query<Record<string, boolean>>(`SELECT ${tests.join(', ')} FROM ${table} WHERE ${where} FOR UPDATE`, params)).rows[0];
  return row ? unknown.filter((_, i) => row[String(i)]) : [];
}

/** Notes the values the writer has just written to the row's fields. */
export async function rememberWritten(client: pg.ClientBase, service: string, e: ChangeEvent, fields: readonly string[]): Promise<void> {
  if (fields.length === 0) return;
  const values = Object.fromEntries(fields.map((f) => [f, e.after![f] ?? null]));
  await client.query(`UPDATE ficus_writeback_positions SET written = COALESCE(written, '{}') || $4::jsonb WHERE ${POSITION}`, [...positionOf(service, e), JSON.stringify(values)]);
}

/** The row is gone: nothing the writer wrote is there any more. */
export async function forgetWritten(client: pg.ClientBase, service: string, e: ChangeEvent): Promise<void> {
  await client.query(`UPDATE ficus_writeback_positions SET written = '{}' WHERE ${POSITION}`, positionOf(service, e));
}
