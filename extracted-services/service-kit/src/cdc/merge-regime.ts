/**
 * The regime a service merges a legacy change in (field-merge.ts). It decides who wins a field
 * both sides changed, so it must be the one the legacy writer goes by, which reads the rule
 * store as it writes (legacy-adapters/cdc writeback/record-holder.ts). A service learns of a
 * flip by notification, within a second, and may read a legacy change before it has: a legacy
 * save acknowledged just after a rollback, read by a service still going by the flip before it,
 * would keep the service's value here while the writer leaves the legacy's there, the two sides
 * apart for good. A legacy save acknowledged after a rollback is committed after it, so a look
 * at the store when the change is read always finds the rollback.
 *
 * The store is asked only when the merge has such a field: the regime changes nothing else a
 * merge does, and a look per change would put the store on every CDC job's path. patient-service
 * and results-service both go through here.
 */
import type { SystemOfRecord } from '../runtime/service-env.js';
import type { FieldMerge } from './field-merge.js';

export interface RegimeMerges<T> {
  /** the regime the merges were made in: the store's, where it was looked at again and differed */
  regime: SystemOfRecord;
  merges: T[];
}

/**
 * `plan` merges (without writing) in a regime; it is made again in the store's regime when a
 * merge in the consumer's has a field both sides changed and the store says otherwise.
 */
export async function mergeInRecordRegime<T extends { m: FieldMerge }>(
  regime: SystemOfRecord,
  recheck: (() => Promise<SystemOfRecord>) | undefined,
  plan: (regime: SystemOfRecord) => Promise<T[]>,
): Promise<RegimeMerges<T>> {
  const merges = await plan(regime);
  if (!recheck || !merges.some(({ m }) => m.conflicts.length + m.yielded.length > 0)) return { regime, merges };
  const now = await recheck();
  return now === regime ? { regime, merges } : { regime: now, merges: await plan(now) };
}
