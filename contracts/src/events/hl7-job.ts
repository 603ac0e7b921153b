/**
 * What the HL7 adapter puts on a new service's queue for each message routed to it
 * (`hl7.<service>.p<partition>`, partitioned by the patient, one job per message, in order).
 */
import { Type, type Static } from '@sinclair/typebox';
import { partitionQueueName } from './partition.js';
import { schemaCheck } from './schema-check.js';

export const Hl7JobSchema = Type.Object({
  /** the adapter's message id (hl7_messages.id) */
  messageId: Type.Integer({ minimum: 1 }),
  /** MSH-10 */
  controlId: Type.String(),
  /** MSH-4.1: a message is unique per (sending facility, control id) */
  sendingFacility: Type.String(),
  messageType: Type.String(),
  triggerEvent: Type.String(),
  /** the message's bytes as received, as a latin1 string (lossless): Buffer.from(raw, 'latin1') gives them back */
  raw: Type.String(),
  /** delivered again by an operator's replay, not for the first time */
  replay: Type.Boolean(),
  /**
   * Whether the legacy inbound is a target of this message too (its HL7 rule in mode `dual`):
   * then the legacy applies it itself, and the service must not write back what it changes
   * (that would apply it twice); when false only the service gets it, and whatever the service
   * changes must be written back, or the legacy never learns it. Absent from jobs queued by an
   * adapter that predates it: the service then goes by its rules.
   */
  legacyToo: Type.Optional(Type.Boolean()),
});

export type Hl7Job = Static<typeof Hl7JobSchema>;

export const hl7QueuePrefix = (service: string) => `hl7.${service}`;
export const hl7QueueName = (service: string, partition: number) => partitionQueueName(hl7QueuePrefix(service), partition);

/** Why a job's data is not an HL7 job, or undefined when it is one. */
export const hl7JobProblem = schemaCheck(Hl7JobSchema, 'an HL7 job');

/** What a listing shows of an HL7 job: identifiers and type, never the message. */
export function hl7JobSummary(data: unknown): Record<string, unknown> {
  if (hl7JobProblem(data)) return { undecodable: true };
  const j = data as Hl7Job;
  return { messageId: j.messageId, controlId: j.controlId, sendingFacility: j.sendingFacility, type: `${j.messageType}^${j.triggerEvent}`, replay: j.replay };
}
