/**
 * What a service keeps only to recognise work it has done: the HL7 messages applied
 * (`ficus_hl7_applied`, a row per message, for ever growing) and the positions of deleted rows
 * (tombstones in `ficus_change_positions`). Both are needed while a redelivery or a replay of
 * the same message or change can still come; after SERVICE_DEDUP_RETENTION_DAYS they are
 * deleted, in small batches, once an hour. A message replayed after that is applied again
 * under the conflict rule (it is older than the rows it names, so it changes nothing they
 * hold that is newer); keep the retention longer than any replay you would make.
 */
import type pg from 'pg';
import { deleteInBatches, PeriodicPurge, type Logger } from '@ficus/contracts';
import { purgeTombstones } from '@ficus/contracts/queues';

export interface DedupRetentionOptions {
  pool: pg.Pool;
  /** 0: keep everything */
  days: number;
  log: Logger;
  purged?: (what: 'hl7-applied' | 'tombstones', n: number) => void;
  everyMs?: number;
  batch?: number;
}

/** Deletes what is older than the retention; answers how many rows of each went. */
export async function purgeDedupState(o: Pick<DedupRetentionOptions, 'pool' | 'days' | 'batch'>): Promise<{ hl7Applied: number; tombstones: number }> {
  const batch = o.batch ?? 1_000;
  const hl7Applied = await deleteInBatches(
    async (n) =>
      (
        await o.pool.query(
          `DELETE FROM ficus_hl7_applied
            WHERE (sending_facility, control_id) IN (SELECT sending_facility, control_id FROM ficus_hl7_applied
                                                      WHERE applied_at < clock_timestamp() - make_interval(days => $1) LIMIT $2)`,
          [o.days, n],
        )
      ).rowCount ?? 0,
    batch,
  );
  const tombstones = await purgeTombstones(o.pool, o.days, batch);
  return { hl7Applied, tombstones };
}

export function startDedupRetention(o: DedupRetentionOptions): { stop: () => Promise<void> } {
  const periodic = new PeriodicPurge(
    async () => {
      const r = await purgeDedupState(o);
      if (r.hl7Applied > 0) o.purged?.('hl7-applied', r.hl7Applied);
      if (r.tombstones > 0) o.purged?.('tombstones', r.tombstones);
      if (r.hl7Applied + r.tombstones > 0) o.log.info({ ...r, retentionDays: o.days }, 'deduplication state purged');
    },
    { what: 'deduplication state', everyMs: o.everyMs ?? 3_600_000, log: o.log },
  );
  if (o.days > 0) periodic.start();
  return { stop: () => periodic.stop() };
}
