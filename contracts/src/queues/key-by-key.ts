/**
 * When the database refuses one row's data in a job of many rows, the job is applied again
 * key by key, each key under a savepoint, so that the other rows' changes are applied and only
 * the refused key's changes become a dead letter: one bad value in a legacy transaction that
 * touched a thousand patients must not hold the other patients of its partition, nor leave
 * their changes in a dead letter. The refused key's later changes apply as they come (a
 * corrected legacy row is a later change), and a replayed letter is then skipped as older.
 */
import type pg from 'pg';
import { keyText, type ChangeEvent } from '../events/change-event.js';
import { isDataRefusal, reasonWithoutValues } from '../postgres/database-errors.js';

export interface KeyRefusal {
  /** the key's change that was refused (its last in the job) */
  change: ChangeEvent;
  error: unknown;
}

/**
 * Applies `changes` (one per key) in order, each with `applyOne` under a savepoint of `client`'s
 * transaction; a key whose data the database refuses (isDataRefusal by default) is rolled back
 * to its savepoint and answered among the refusals; any other error ends the work (thrown).
 */
export async function applyKeyByKey<R>(
  client: pg.ClientBase,
  changes: readonly ChangeEvent[],
  applyOne: (change: ChangeEvent) => Promise<R[]>,
  refused: (e: unknown) => boolean = isDataRefusal,
): Promise<{ applied: R[]; refusals: KeyRefusal[] }> {
  const applied: R[] = [];
  const refusals: KeyRefusal[] = [];
  for (const change of changes) {
    await client.query('SAVEPOINT ficus_key');
    try {
      applied.push(...(await applyOne(change)));
      await client.query('RELEASE SAVEPOINT ficus_key');
    } catch (e) {
      if (!refused(e)) throw e;
      await client.query('ROLLBACK TO SAVEPOINT ficus_key');
      refusals.push({ change, error: e });
    }
  }
  return { applied, refusals };
}

/** The events of `events` with the refused change's key, in their order: the dead letter's content. */
export function eventsOfKey(events: readonly ChangeEvent[], refusal: KeyRefusal): ChangeEvent[] {
  const k = keyText(refusal.change.key);
  return events.filter((e) => e.topic === refusal.change.topic && keyText(e.key) === k);
}

/**
 * The dead letter's reason: where the refused row is (source and table, or `table` when given;
 * position; the key's column names) and why, without the key's or the row's values (patient data).
 */
export function refusalReason(who: string, refusal: KeyRefusal, events: readonly ChangeEvent[], table?: string): string {
  const c = refusal.change;
  const first = events[0]?.source.position;
  const span = events.length > 1 && first && first !== c.source.position ? ` (${events.length} changes of the key in the job, from ${first})` : '';
  return (
    `${who} refused the ${c.op} of ${table ?? `${c.source.name}:${c.source.table}`} at position ${c.source.position}${span}, ` +
    `key (${Object.keys(c.key).sort().join(', ')}): ${reasonWithoutValues(refusal.error)}; the job's other keys were applied`
  );
}

/** The part name of a key's dead letter within its job: its position, which names no patient. */
export const refusalPart = (refusal: KeyRefusal) => `at-${refusal.change.source.position.replace(/[^0-9A-Za-z]/g, '-')}`;
