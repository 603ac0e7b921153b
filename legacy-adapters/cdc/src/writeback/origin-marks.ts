/**
 * How the legacy writer tells the capture whose changes follow in its transaction: transactional
 * logical messages, which pgoutput delivers in place among the changes (and drops with a
 * savepoint rolled back). After `ficus-writeback` the changes are the writing service's own
 * (tagged, so that it does not apply them again); after `ficus-legacy-effect` they are what the
 * legacy itself makes of that write for records of other services (a merge moving results),
 * passed on as legacy changes, since those services never wrote them.
 */
import type pg from 'pg';
import { WRITEBACK_ORIGIN } from '@ficus/contracts/queues';

export const LEGACY_EFFECT_PREFIX = 'ficus-legacy-effect';

/** The changes that follow are `service`'s write-back. */
export async function markWriteback(client: pg.ClientBase, service: string): Promise<void> {
  await client.query('SELECT pg_logical_emit_message(true, $1, $2)', [WRITEBACK_ORIGIN, service]);
}

/** Runs `work` with its changes captured as the legacy's own, then marks the rest as `service`'s write-back again. */
export async function asLegacyChange<T>(client: pg.ClientBase, service: string, work: () => Promise<T>): Promise<T> {
  await client.query('SELECT pg_logical_emit_message(true, $1, $2)', [LEGACY_EFFECT_PREFIX, service]);
  // no finally: after a failure the transaction (or savepoint) is rolled back, its messages with it
  const result = await work();
  await markWriteback(client, service);
  return result;
}
