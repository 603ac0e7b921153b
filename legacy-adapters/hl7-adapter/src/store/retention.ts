/**
 * Retention of the message store: the raw messages are patient data, and a hospital keeps
 * them as long as its policy says, not forever. With HL7_RETENTION_DAYS set, messages older
 * than that are deleted once every delivery of theirs is done (a message still pending, or
 * with a dead letter no replay resolved, is kept however old: deleting it would lose it), with
 * their deliveries, and so are rejected frames older than that. Deleted in small batches so
 * that intake never waits on a long delete. A resend of a purged message is no longer known as
 * a duplicate: choose a retention longer than any sender's resend window.
 */
import type pg from 'pg';
import { deleteInBatches, PeriodicPurge, type Logger } from '@ficus/contracts';
import { RESOLVED_BY } from '../delivery/delivery-store.js';

export interface RetentionOptions {
  pool: pg.Pool;
  days: number;
  /** messages per delete statement */
  batch?: number;
  /** time between two purges */
  everyMs?: number;
  log: Logger;
  purged?: (what: 'messages' | 'rejects', n: number) => void;
}

export class Retention {
  private readonly periodic: PeriodicPurge;

  constructor(private readonly o: RetentionOptions) {
    this.periodic = new PeriodicPurge(() => this.purge(), { what: 'message store', everyMs: o.everyMs ?? 3_600_000, log: o.log });
  }

  start(): void {
    if (this.o.days > 0) this.periodic.start();
  }

  /** Purges everything due, batch by batch; answers how many messages and rejects went. */
  async purge(): Promise<{ messages: number; rejects: number }> {
    const messages = await deleteInBatches(
      async (batch) =>
        // both deletes in one statement: the deliveries' foreign key is checked at its end
        (
          await this.o.pool.query(
            `WITH due AS (
               SELECT m.id FROM hl7_messages m
                WHERE m.received_at < clock_timestamp() - make_interval(days => $1)
                  AND NOT EXISTS (SELECT 1 FROM hl7_deliveries d
                                   WHERE d.message_id = m.id AND (d.status = 'pending' OR (d.status = 'dead' AND NOT EXISTS (${RESOLVED_BY}))))
                ORDER BY m.received_at LIMIT $2
             ), deliveries AS (
               DELETE FROM hl7_deliveries d USING due WHERE d.message_id = due.id
             )
             DELETE FROM hl7_messages m USING due WHERE m.id = due.id`,
            [this.o.days, batch],
          )
        ).rowCount ?? 0,
      this.o.batch ?? 1_000,
    );
    const rejects = (await this.o.pool.query('DELETE FROM hl7_rejects WHERE received_at < clock_timestamp() - make_interval(days => $1)', [this.o.days])).rowCount ?? 0;
    if (messages > 0) this.o.purged?.('messages', messages);
    if (rejects > 0) this.o.purged?.('rejects', rejects);
    if (messages + rejects > 0) this.o.log.info({ messages, rejects, retentionDays: this.o.days }, 'message store purged');
    return { messages, rejects };
  }

  stop(): Promise<void> {
    return this.periodic.stop();
  }
}
