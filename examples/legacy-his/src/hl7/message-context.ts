/**
 * What a message handler gets: the message, and the transaction it is applied in. A handler
 * either returns (the effect is committed with the message's log row) or throws an
 * Hl7Refusal (everything it wrote is rolled back, and the sender gets AE/AR with the error).
 * What the message means is read through @ficus/hl7-protocol's interpretation; the handlers
 * write it to the legacy schema.
 */
import type { Hl7Message } from '@ficus/hl7-protocol';
import type pg from 'pg';

export interface MessageContext {
  readonly tx: pg.PoolClient;
  readonly message: Hl7Message;
  /** MSH-4 as written, the first half of the message's key */
  readonly facility: string;
  /** MSH-10, the second half */
  readonly controlId: string;
}

export type MessageHandler = (ctx: MessageContext) => Promise<void>;
