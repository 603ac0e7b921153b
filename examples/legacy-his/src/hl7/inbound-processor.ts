/**
 * One decoded message, applied exactly once: the handler of its type and event runs in one
 * database transaction together with the message's HL7_INBOUND_LOG row, keyed by (MSH-4,
 * MSH-10). A message whose key is already APPLIED is not applied again and is answered as
 * accepted again. The answer is known only after the commit.
 */
import { createHash } from 'node:crypto';
import { buildAck, decideAck, facilityKey, hl7Error, Hl7Refusal, refuse, type Hl7Ack, type Hl7Error, type Hl7Message, type RefusalKind } from '@ficus/hl7-protocol';
import type pg from 'pg';
import { withTransaction, type Logger } from '@ficus/contracts';
import { cancelAdmission, cancelDischarge } from './adt-cancels.js';
import { addPersonInformation, admitPatient, changePatientClass, dischargePatient, mergePatients, registerPatient, updatePatientInformation, updatePersonInformation } from './adt-handlers.js';
import { changePatientIdentifiers } from './identifier-change.js';
import type { MessageHandler } from './message-context.js';
import { storeResults } from './oru-handler.js';
import { answerQuery } from './patient-query.js';

/** The message types and events the legacy inbound applies */
export const HANDLERS: Readonly<Record<string, Readonly<Record<string, MessageHandler>>>> = {
  ADT: {
    A01: admitPatient,
    A04: registerPatient,
    A08: updatePatientInformation,
    A28: addPersonInformation,
    A31: updatePersonInformation,
    A06: changePatientClass('A06'),
    A07: changePatientClass('A07'),
    A03: dischargePatient,
    A13: cancelDischarge,
    A11: cancelAdmission,
    A40: mergePatients,
    A47: changePatientIdentifiers,
  },
  ORU: { R01: storeResults },
};

export interface ProcessOutcome {
  /** accepted: applied now or before (AA/CA); error: not applied, may be sent again (AE/CE); rejected: never (AR/CR) */
  kind: 'accepted' | RefusalKind;
  /** the message's key was already applied: answered from HL7_INBOUND_LOG, nothing applied */
  duplicate: boolean;
  errors: Hl7Error[];
}

const MAX_ATTEMPTS = 3;
/** serialization failure, deadlock, unique violation (two messages racing to create one row) */
const RETRYABLE = new Set(['40001', '40P01', '23505']);

export class InboundProcessor {
  constructor(
    private readonly pool: pg.Pool,
    private readonly log: Logger,
  ) {}

  /** A query's answer (with its data); nothing is written. The database away: AE, ask again. */
  async query(message: Hl7Message): Promise<Hl7Ack> {
    try {
      return await answerQuery(this.pool, message);
    } catch (e) {
      this.log.error({ controlId: message.header.controlId, errCode: (e as { code?: string }).code }, 'HL7 query could not be answered');
      return buildAck(message, decideAck(message.header, 'error').code, { error: hl7Error(207, 'the legacy system could not answer the query; ask again later') });
    }
  }

  async process(message: Hl7Message): Promise<ProcessOutcome> {
    const h = message.header;
    const facility = facilityKey(h.sendingFacility);
    const key = { facility, controlId: h.controlId };
    if (facility.length > 255) return refused(refuse(104, 'MSH-4 (sending facility) is longer than the legacy keeps (255)', { segment: 'MSH', sequence: 1, field: 4 }, 'rejected'));
    if (h.controlId.length > 199) return refused(refuse(104, 'MSH-10 (message control id) is longer than 199 characters', { segment: 'MSH', sequence: 1, field: 10 }, 'rejected'));

    const handlers = HANDLERS[h.messageType];
    const handler = handlers?.[h.triggerEvent];
    if (!handler) {
      const refusal = handlers
        ? refuse(201, `event ${h.messageType}^${h.triggerEvent} is not supported by the legacy HL7 inbound`, { segment: 'MSH', sequence: 1, field: 9, repetition: 1, component: 2 }, 'rejected')
        : refuse(200, `message type ${h.messageType} is not supported by the legacy HL7 inbound`, { segment: 'MSH', sequence: 1, field: 9, repetition: 1, component: 1 }, 'rejected');
      await this.record(message, key, refusal);
      return refused(refusal);
    }

    for (let attempt = 1; ; attempt++) {
      try {
        return await this.apply(message, key, handler);
      } catch (e) {
        if (e instanceof Hl7Refusal) {
          await this.record(message, key, e);
          return refused(e);
        }
        const code = (e as { code?: string }).code;
        if (code !== undefined && RETRYABLE.has(code) && attempt < MAX_ATTEMPTS) continue;
        const refusal = databaseRefusal(e);
        this.log.error({ controlId: h.controlId, type: `${h.messageType}^${h.triggerEvent}`, errCode: code, constraint: (e as { constraint?: string }).constraint }, 'HL7 message could not be applied');
        await this.record(message, key, refusal);
        return refused(refusal);
      }
    }
  }

  private async apply(message: Hl7Message, key: { facility: string; controlId: string }, handler: MessageHandler): Promise<ProcessOutcome> {
    const h = message.header;
    const taken = await withTransaction(this.pool, async (tx): Promise<{ resend: false } | { resend: true; previous: { msg_sha256: string } | undefined }> => {
      const claimed = await tx.query(
        `INSERT INTO HL7_INBOUND_LOG (SEND_FACILITY, CONTROL_ID, SEND_APP, MSG_TYPE, TRIGGER_EVT, MSG_SHA256, OUTCOME, ACK_CD)
         VALUES ($1, $2, $3, $4, $5, $6, 'APPLIED', $7)
         ON CONFLICT (SEND_FACILITY, CONTROL_ID) DO UPDATE
           SET SEND_APP = EXCLUDED.SEND_APP, MSG_TYPE = EXCLUDED.MSG_TYPE, TRIGGER_EVT = EXCLUDED.TRIGGER_EVT, MSG_SHA256 = EXCLUDED.MSG_SHA256,
               OUTCOME = 'APPLIED', ACK_CD = EXCLUDED.ACK_CD, ERR_CD = NULL, ERR_MSG = NULL,
               PROCESSED_DT = LOCALTIMESTAMP(0), ATTEMPT_CNT = HL7_INBOUND_LOG.ATTEMPT_CNT + 1
           WHERE HL7_INBOUND_LOG.OUTCOME <> 'APPLIED'
         RETURNING LOG_ID`,
        [...logKey(message, key), decideAck(h, 'accepted').code],
      );
      if ((claimed.rowCount ?? 0) === 0) {
        // applied before (or just now, on another connection: the insert waited for its commit)
        const resend = await tx.query<{ msg_sha256: string }>(
          `UPDATE HL7_INBOUND_LOG SET DUP_CNT = DUP_CNT + 1
            WHERE SEND_FACILITY = $1 AND CONTROL_ID = $2 AND MSG_TYPE = $3 AND TRIGGER_EVT = $4
          RETURNING MSG_SHA256`,
          [key.facility, key.controlId, h.messageType.slice(0, 20), h.triggerEvent.slice(0, 20)],
        );
        return { resend: true, previous: resend.rows[0] };
      }
      await handler({ tx, message, facility: key.facility, controlId: key.controlId });
      return { resend: false };
    });
    if (!taken.resend) return { kind: 'accepted', duplicate: false, errors: [] };
    if (!taken.previous) {
      return refused(refuse(205, 'MSH-10: this sending facility already used this control id for a message of another type or event', { segment: 'MSH', sequence: 1, field: 10 }, 'rejected'));
    }
    if (taken.previous.msg_sha256 !== sha256(message.text)) {
      this.log.warn({ controlId: key.controlId, type: `${h.messageType}^${h.triggerEvent}` }, 'HL7 message sent again with other content: answered as a resend, not applied');
    }
    return { kind: 'accepted', duplicate: true, errors: [] };
  }

  /** Writes a refusal's outcome (never over an APPLIED row). A failure here only loses the log line. */
  private async record(message: Hl7Message, key: { facility: string; controlId: string }, refusal: Hl7Refusal): Promise<void> {
    if (key.facility.length > 255 || key.controlId.length > 199) return;
    const ack = decideAck(message.header, refusal.kind).code;
    try {
      await this.pool.query(
        `INSERT INTO HL7_INBOUND_LOG (SEND_FACILITY, CONTROL_ID, SEND_APP, MSG_TYPE, TRIGGER_EVT, MSG_SHA256, OUTCOME, ACK_CD, ERR_CD, ERR_MSG)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (SEND_FACILITY, CONTROL_ID) DO UPDATE
           SET SEND_APP = EXCLUDED.SEND_APP, MSG_TYPE = EXCLUDED.MSG_TYPE, TRIGGER_EVT = EXCLUDED.TRIGGER_EVT, MSG_SHA256 = EXCLUDED.MSG_SHA256,
               OUTCOME = EXCLUDED.OUTCOME, ACK_CD = EXCLUDED.ACK_CD, ERR_CD = EXCLUDED.ERR_CD, ERR_MSG = EXCLUDED.ERR_MSG,
               PROCESSED_DT = LOCALTIMESTAMP(0), ATTEMPT_CNT = HL7_INBOUND_LOG.ATTEMPT_CNT + 1
           WHERE HL7_INBOUND_LOG.OUTCOME <> 'APPLIED'`,
        [...logKey(message, key), refusal.kind === 'error' ? 'ERROR' : 'REJECTED', ack, refusal.error.code, refusal.error.message.slice(0, 300)],
      );
    } catch (e) {
      this.log.warn({ controlId: key.controlId, errCode: (e as { code?: string }).code }, 'HL7 inbound log row not written');
    }
  }
}

function logKey(message: Hl7Message, key: { facility: string; controlId: string }): unknown[] {
  const h = message.header;
  return [key.facility, key.controlId, facilityKey(h.sendingApplication).slice(0, 255), h.messageType.slice(0, 20), h.triggerEvent.slice(0, 20), sha256(message.text)];
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function refused(refusal: Hl7Refusal): ProcessOutcome {
  return { kind: refusal.kind, duplicate: false, errors: [refusal.error] };
}

/**
 * A database failure as the sender's answer. Values the legacy schema refuses are AE 102/104
 * (the message needs correcting); anything else (the database down, a bug) is AE 207, which a
 * sender retries. Never quotes the database's message: it may hold values of the message.
 */
function databaseRefusal(e: unknown): Hl7Refusal {
  const code = (e as { code?: string }).code;
  switch (code) {
    case '23514':
    case '22007':
    case '22008':
    case '22P02':
      return new Hl7Refusal(hl7Error(102, 'a value of the message breaks a rule of the legacy database'));
    case '22001':
      return new Hl7Refusal(hl7Error(104, 'a value of the message is longer than the legacy database keeps'));
    default:
      return new Hl7Refusal(hl7Error(207, 'the legacy system could not apply the message; send it again later'));
  }
}
