/**
 * Why a pending delivery waits, for the HL7 views (the README's "shown with why"). Waiting is
 * not a failed attempt, so the dispatcher writes nothing for it (attempts 0, no last error):
 * the reason is read here from what holds it (lane-order.ts):
 *
 * - a message of several patients waits for the older pending deliveries of its other
 *   patients' lanes (after_partitions), and, to a service's queue, until the service has
 *   finished the jobs already on those partitions (a result it holds while its patient is not
 *   known yet, say);
 * - the newer deliveries of those lanes wait for it (its barrier);
 * - a lane's deliveries wait behind its oldest pending one.
 */
/**
 * SQL: per pending delivery `d`, the message ids of what holds it (null each when nothing does):
 * cheap index reads (hl7_deliveries_lane, hl7_deliveries_multi_lane), only for pending deliveries.
 */
export const HELD_BEHIND = `CASE WHEN d.status = 'pending' THEN json_build_object(
    'others', (SELECT o.message_id FROM hl7_deliveries o WHERE d.after_partitions IS NOT NULL AND o.status = 'pending' AND o.target = d.target
                AND o.partition = ANY(d.after_partitions) AND o.partition <> d.partition AND o.id < d.id ORDER BY o.id LIMIT 1),
    'barrier', (SELECT b.message_id FROM hl7_deliveries b WHERE b.status = 'pending' AND b.target = d.target AND b.after_partitions IS NOT NULL
                AND d.partition = ANY(b.after_partitions) AND b.partition <> d.partition AND b.id < d.id ORDER BY b.id LIMIT 1),
    'lane', (SELECT o.message_id FROM hl7_deliveries o WHERE o.status = 'pending' AND o.target = d.target AND o.partition = d.partition
                AND o.id < d.id ORDER BY o.id LIMIT 1),
    'partition', d.partition, 'afterPartitions', d.after_partitions) END`;

export interface HeldBehind {
  others: number | null;
  barrier: number | null;
  lane: number | null;
  partition: number;
  afterPartitions: number[] | null;
}

/** Whether a service still has jobs to finish on these partitions of its queue (QueuePublisher.unfinished). */
export type ServiceUnfinished = (service: string, partitions: readonly number[]) => Promise<boolean>;

/** Why this pending delivery waits, or null when nothing holds it (it is due, or its last error says why). */
export async function heldReason(d: { target: string; attempts: number; heldBehind: HeldBehind | null }, unfinished: ServiceUnfinished): Promise<string | null> {
  const h = d.heldBehind;
  if (!h) return null;
  if (h.others !== null) return `a message of several patients: waits until message ${h.others}, older, of another of its patients, has reached ${d.target}`;
  if (h.barrier !== null) return `waits until message ${h.barrier}, of several patients including this one's, has reached ${d.target}`;
  if (h.lane !== null) return `waits behind message ${h.lane}, pending before it in its lane (the same patient)`;
  const others = (h.afterPartitions ?? []).filter((p) => p !== h.partition);
  // published already (attempts > 0): its last error says it waits for the service to finish it
  if (!d.target.startsWith('queue:') || others.length === 0 || d.attempts > 0) return null;
  const service = d.target.slice('queue:'.length);
  const busy = await unfinished(service, others).catch(() => undefined);
  if (busy === undefined) return `a message of several patients: may wait for ${service} to finish the jobs of its other patients' lanes (its queue could not be read)`;
  return busy
    ? `a message of several patients: waits until ${service} has finished the jobs already on its queue for its other patients (partitions ${others.join(', ')}); one it holds (a patient it does not know yet, say) goes first`
    : null;
}
