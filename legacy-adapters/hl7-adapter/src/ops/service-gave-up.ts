/**
 * Deliveries to a new service's queue that the service then gave up on: its consumer
 * dead-lettered the job (an ORU for a patient it does not know, a message with no MR ...). The
 * adapter's own status says `delivered` (the queue took the job, which is all the adapter does),
 * so the HL7 views read the services' dead letters (DeadLetterDesk) to say so: ids of all of
 * them in one round trip per page, and the letters of the page's own in one more, never one per
 * row. A dead letter replayed or discarded is gone from the desk, and so is the mark.
 */
import { hl7QueuePrefix } from '@ficus/contracts';
import type { DeadLetterDesk } from '@ficus/contracts/queues';
import { jobIdOf } from '../delivery/queue-publisher.js';

/** What the HL7 views need of the desk */
export type ServiceDeadLetters = Pick<DeadLetterDesk, 'letterIds' | 'letters' | 'counts'>;

/** A job a service gave up on: the delivery's target and the job id the adapter gave it */
export interface GaveUpJob {
  target: string;
  jobId: string;
  /** where its dead letter is: the partition queue and the letter's id */
  queue: string;
  letterId: string;
}

export interface GaveUp {
  /** the service's reason (its dead letter's error: codes and field names, no patient values) */
  error: string;
  /** when it gave up; null when the letter could not be read */
  at: string | null;
}

export type GaveUpJobs = { ok: true; jobs: GaveUpJob[] } | { ok: false; why: string };

// a letter is `dead-<job id>`; a replayed letter that died again, `dead-<job id>-replayed-<ms>`
const LETTER = /^dead-((?:message|replay)-\d+)(?:-replayed-\d+)*$/;
const SERVICE_QUEUE = /^hl7\.(.+)\.p\d+$/;

/** Every job the services still hold as a dead letter (or why they could not be read). */
export async function gaveUpJobs(desk: ServiceDeadLetters): Promise<GaveUpJobs> {
  try {
    const ids = await desk.letterIds();
    const jobs: GaveUpJob[] = [];
    for (const { queue, id } of ids) {
      const job = LETTER.exec(id)?.[1];
      const service = SERVICE_QUEUE.exec(queue)?.[1];
      if (job && service && queue.startsWith(`${hl7QueuePrefix(service)}.`)) jobs.push({ target: `queue:${service}`, jobId: job, queue, letterId: id });
    }
    return { ok: true, jobs };
  } catch (e) {
    return { ok: false, why: `the services' dead letters could not be read: ${(e as Error).message}` };
  }
}

/** SQL: delivery `x` is one of the jobs $p (targets) and $p+1 (job ids) name, as jobIdOf names them. */
export const gaveUpCondition = (x: string, p: number) =>
  `((${x}.target, CASE WHEN ${x}.replay_reason IS NULL THEN 'message-' || ${x}.message_id ELSE 'replay-' || ${x}.id END) IN (SELECT * FROM unnest($${p}::text[], $${p + 1}::text[])))`;

export const gaveUpParams = (g: GaveUpJobs): [string[], string[]] => (g.ok ? [g.jobs.map((j) => j.target), g.jobs.map((j) => j.jobId)] : [[], []]);

interface ListedDelivery {
  id: number;
  target: string;
  status: string;
  replay: boolean;
}

/**
 * The deliveries of these messages the service gave up on, with its reason: the page's own
 * letters read in one round trip. Keyed by delivery id.
 */
export async function gaveUpOf(desk: ServiceDeadLetters, g: GaveUpJobs, messages: { id: number; deliveries: ListedDelivery[] }[]): Promise<Map<number, GaveUp>> {
  if (!g.ok || g.jobs.length === 0) return new Map();
  const byJob = new Map(g.jobs.map((j) => [`${j.target}\u0000${j.jobId}`, j]));
  const found: { deliveryId: number; job: GaveUpJob }[] = [];
  for (const m of messages) {
    for (const d of m.deliveries) {
      if (d.status !== 'delivered' || !d.target.startsWith('queue:')) continue;
      const job = byJob.get(`${d.target}\u0000${jobIdOf({ replay: d.replay, id: d.id, messageId: m.id })}`);
      if (job) found.push({ deliveryId: d.id, job });
    }
  }
  if (found.length === 0) return new Map();
  const letters = await desk.letters(found.map((f) => ({ queue: f.job.queue, id: f.job.letterId }))).catch(() => undefined);
  const byLetter = new Map((letters ?? []).map((l) => [`${l.queue}\u0000${l.id}`, l]));
  const out = new Map<number, GaveUp>();
  for (const f of found) {
    const l = byLetter.get(`${f.job.queue}\u0000${f.job.letterId}`);
    if (l) out.set(f.deliveryId, { error: l.error, at: l.failedAt });
    // unread, it is still given up; a letter replayed between the two reads is not
    else if (!letters) out.set(f.deliveryId, { error: 'the service gave up on it (its dead letter could not be read)', at: null });
  }
  return out;
}
