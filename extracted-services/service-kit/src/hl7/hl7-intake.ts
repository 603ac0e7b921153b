/**
 * A service's HL7 intake: the jobs the HL7 adapter puts on `hl7.<service>.p<n>` (one per
 * message, a patient's messages in one partition, in order), each applied exactly once.
 *
 * A message is identified by its sending facility and control id. Its row in
 * `ficus_hl7_applied` is written in the same transaction as its effect, so a job delivered
 * again (BullMQ's at-least-once, an operator's replay) finds the row and changes nothing.
 * A message the service cannot apply as it is (undecodable, an unsupported event, bad data)
 * is refused: its transaction is rolled back and the job goes to the partition's dead letters
 * with the HL7 error as the reason (PermanentError), never retried for ever. A message that
 * names a patient, stay or merge partner this service does not know (HL7 204) may only be
 * early: the registration it follows can still be on its way (in another service's queue, or
 * in the CDC from the legacy database when the registration went to legacy). It is tried again
 * in place for `waitForKeysMs` (NotYetError), holding its partition so that the patient's
 * later messages stay behind it, and refused only then. A failure of the database is retried
 * in place, holding the partition.
 */
import { hl7JobProblem, hl7QueuePrefix, withTransaction, type Hl7Job, type Logger } from '@ficus/contracts';
import { NotYetError, PartitionedConsumer, PermanentError, type RetryPolicy } from '@ficus/contracts/queues';
import { decodeMessage, Hl7Refusal, parseDateTime, type Hl7Message } from '@ficus/hl7-protocol';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { SystemOfRecord } from '../runtime/service-env.js';
import type { SystemOfRecordSource } from '../runtime/system-of-record.js';
import type { ServiceMetrics } from '../runtime/service-metrics.js';
import { messageRegime } from './hl7-regime.js';

/** Where a message stands in the history of the rows it touches: MSH-7, then the order received. */
export interface MessageOrder {
  /** MSH-7 as `YYYY-MM-DD HH:MM:SS[+HH:MM]` (localTimestamp turns it into local time), or null when unreadable */
  time: string | null;
  /** the adapter's message id: the order the adapter received messages in */
  seq: number;
}

export interface Hl7Context {
  tx: pg.PoolClient;
  message: Hl7Message;
  job: Hl7Job;
  order: MessageOrder;
  systemOfRecord: SystemOfRecord;
  /** hand what the message changed to the outbox: the legacy does not get the message itself (hl7-regime.ts) */
  writeBack: boolean;
}

/** `applied`: the message changed rows (or had nothing to change); `stale`: older than the rows it names, not applied */
export type HandlerOutcome = 'applied' | 'stale';
export type Hl7Handler = (ctx: Hl7Context) => Promise<HandlerOutcome>;
export type Hl7Handlers = Readonly<Record<string, Readonly<Record<string, Hl7Handler>>>>;

export interface Hl7IntakeOptions {
  service: string;
  connection: Redis;
  partitions: number;
  pool: pg.Pool;
  handlers: Hl7Handlers;
  systemOfRecord: SystemOfRecordSource;
  metrics: ServiceMetrics;
  log: Logger;
  retry?: Partial<RetryPolicy>;
  /** how long a message naming an unknown patient or stay (HL7 204) is tried again before it is refused (0: refused at once) */
  waitForKeysMs: number;
}

/** HL7 204 (unknown key identifier): what the message names may not have arrived yet */
const UNKNOWN_KEY = 204;

/** serialization failure, deadlock, unique violation (two writers racing for one row): tried again */
const TRANSIENT = new Set(['40001', '40P01', '23505']);
/** values the schema refuses: the message needs correcting, no retry mends it */
const BAD_DATA = new Set(['23514', '22007', '22008', '22P02', '22001', '23502']);

export function startHl7Intake(o: Hl7IntakeOptions): Promise<PartitionedConsumer<Hl7Job>> {
  // when each job held for an unknown key was first refused (one job per partition at a time)
  const waitingSince = new Map<string, number>();
  return PartitionedConsumer.start<Hl7Job>({
    connection: o.connection,
    prefix: hl7QueuePrefix(o.service),
    partitions: o.partitions,
    retry: o.retry,
    log: o.log,
    handle: async (job) => {
      const held = `${job.queueName}#${job.id}`;
      try {
        await handleJob(o, job, waitingSince.get(held));
        waitingSince.delete(held);
      } catch (e) {
        if (e instanceof NotYetError) {
          if (!waitingSince.has(held)) waitingSince.set(held, Date.now());
        } else waitingSince.delete(held);
        throw e;
      }
    },
  });
}

async function handleJob(o: Hl7IntakeOptions, job: Job<Hl7Job>, waitingSince: number | undefined): Promise<void> {
  const problem = hl7JobProblem(job.data);
  if (problem) {
    o.metrics.hl7Messages.inc({ type: 'unknown', outcome: 'refused' });
    throw new PermanentError(`not an HL7 job: ${problem}`);
  }
  const data = job.data;
  // logged by the adapter's message id (`ficus hl7 show <id>`), never by MSH-10: engines build control ids from MRNs
  const type = `${data.messageType}^${data.triggerEvent}`;
  const refused = (reason: string) => {
    o.metrics.hl7Messages.inc({ type, outcome: 'refused' });
    o.log.warn({ queue: job.queueName, jobId: job.id, messageId: data.messageId, type, reason }, 'HL7 message refused: dead letter');
    return new PermanentError(reason);
  };
  const decoded = decodeMessage(Buffer.from(data.raw, 'latin1'));
  if (!decoded.ok) throw refused(`HL7 ${decoded.error.code}: ${decoded.error.message}`);
  const message = decoded.message;
  const handler = o.handlers[message.header.messageType]?.[message.header.triggerEvent];
  if (!handler) throw refused(`HL7 ${o.handlers[message.header.messageType] ? 201 : 200}: ${type} is not applied by ${o.service}`);

  const order: MessageOrder = { time: parseDateTime(message.header.dateTime)?.timestamp ?? null, seq: data.messageId };
  let outcome: HandlerOutcome | 'duplicate';
  try {
    outcome = await withTransaction(o.pool, async (tx): Promise<HandlerOutcome | 'duplicate'> => {
      const claimed = await tx.query(
        `INSERT INTO ficus_hl7_applied (sending_facility, control_id, message_type, trigger_event, message_id)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sending_facility, control_id) DO NOTHING`,
        [data.sendingFacility, data.controlId, data.messageType, data.triggerEvent, data.messageId],
      );
      if ((claimed.rowCount ?? 0) === 0) return 'duplicate';
      const taken = await handler({ tx, message, job: data, order, ...messageRegime(data, o.systemOfRecord) });
      if (taken === 'stale') {
        await tx.query(`UPDATE ficus_hl7_applied SET outcome = 'stale' WHERE sending_facility = $1 AND control_id = $2`, [data.sendingFacility, data.controlId]);
      }
      return taken;
    });
  } catch (e) {
    if (e instanceof Hl7Refusal && e.error.code === UNKNOWN_KEY && (waitingSince ?? Date.now()) + o.waitForKeysMs > Date.now()) {
      if (waitingSince === undefined) {
        o.metrics.hl7Messages.inc({ type, outcome: 'waiting' });
        o.log.info({ queue: job.queueName, jobId: job.id, messageId: data.messageId, type, reason: e.reason, waitMs: o.waitForKeysMs }, 'HL7 message names what is not known yet: tried again, its partition waits');
      }
      throw new NotYetError(e.reason);
    }
    if (e instanceof Hl7Refusal) throw refused(e.reason);
    const code = (e as { code?: string }).code;
    if (code !== undefined && BAD_DATA.has(code)) throw refused(`a value of the message breaks a rule of the ${o.service} database (${code})`);
    o.metrics.hl7Messages.inc({ type, outcome: 'failed' });
    throw TRANSIENT.has(code ?? '') ? new Error(`transient database conflict (${code})`) : e;
  }
  o.metrics.hl7Messages.inc({ type, outcome });
  o.log.debug({ messageId: data.messageId, type, outcome }, 'HL7 message taken');
}
