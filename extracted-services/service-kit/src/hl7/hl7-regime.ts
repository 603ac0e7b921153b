/**
 * Under which rule one HL7 message is applied, and whether what it changes is written back.
 *
 * The legacy learns a message either from the adapter (its HL7 rule in mode `dual`: the legacy
 * inbound is a target too) or, when only this service got it (mode `new` or `retired`), from
 * this service's write-back; there is no third way. So the write-back follows the message's own
 * delivery, which the adapter states in the job (`legacyToo`), not who holds the record for the
 * HTTP writes: with `adt-patient-events` in `new` and `patients-write` still in `legacy`, an A01
 * that was not written back was in the service only, for ever (a probe, 6 December).
 *
 * A message written back is applied as by the system of record (its rows are the service's own,
 * ordered by MSH-7 and receive order, not held against the legacy's committed state), whoever
 * holds the record for the HTTP writes: the legacy never applies it itself, so there is no
 * legacy copy to wait for or to defer to, and a provisional row would stay provisional for ever.
 *
 * A message the legacy got too is the legacy's to apply, whoever holds the record for the HTTP
 * writes: the service's copy is an early one (provisional, held against the legacy's committed
 * state) that the legacy's CDC takes over under the legacy's id. Applied as the service's own
 * while the service held the HTTP writes, it kept a service id and its visit number, and the
 * legacy's stay of the same admission came through CDC beside it: every stay twice (a chaos
 * probe, 7 December, ADT in `dual` with `patients-write` in `new`).
 *
 * A job queued by an adapter that predates `legacyToo` goes by the service's rules instead
 * (SystemOfRecordSource.hl7WriteBack): a guess from the modes now, not those it was routed under.
 */
import type { Hl7Job } from '@ficus/contracts';
import type { SystemOfRecord } from '../runtime/service-env.js';
import type { SystemOfRecordSource } from '../runtime/system-of-record.js';

export interface MessageRegime {
  systemOfRecord: SystemOfRecord;
  writeBack: boolean;
}

export function messageRegime(job: Pick<Hl7Job, 'legacyToo'>, source: Pick<SystemOfRecordSource, 'current' | 'hl7WriteBack'>): MessageRegime {
  const writeBack = job.legacyToo === undefined ? source.hl7WriteBack() : !job.legacyToo;
  if (writeBack) return { systemOfRecord: 'service', writeBack };
  return { systemOfRecord: job.legacyToo === true ? 'legacy' : source.current(), writeBack };
}
