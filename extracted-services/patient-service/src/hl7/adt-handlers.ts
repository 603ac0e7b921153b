/**
 * The ADT events patient-service applies, each inside the message's transaction (the kit's
 * HL7 intake): A01 admit, A04 register, A08 update, A28 add person, A31 update person, A02 transfer,
 * A12 cancel transfer (transfer-cancel.ts), A06/A07 change an outpatient to an inpatient and back
 * (class-change.ts), A03 discharge, A13 cancel discharge, A11 cancel admit (stay-cancels.ts), A40 merge
 * (merges.ts), A47 change of identifier (identifier-change.ts).
 * A01/A04/A08/A28/A31/A06/A07/A03/A13/A40/A47 have the legacy inbound's effect (so that both APIs answer alike
 * after the same message), except that a patient or stay already held is updated by HL7's rule
 * for updates, field by field (sent-fields.ts), which the legacy inbound does not follow; A02 and
 * A12, which the legacy does not apply, move the stay and keep (or withdraw) the transfer; A11 leaves to the
 * legacy what only the legacy can decide (stay-cancels.ts).
 */
import { at, describesVisit, dischargedBeforeAdmission, eventTime, readDischarge, readVisit, refuse, requireSegment, visitNumber, type AdmissionType } from '@ficus/hl7-protocol';
import { localTimestamp } from '@ficus/legacy-his/contract';
import { hl7MayOverwrite, hl7Stamp, type Hl7Context, type HandlerOutcome, type Hl7Handler, type Hl7Handlers } from '@ficus/service-kit';
import type { MrnBlock } from '../patients/mrn-block.js';
import type { OutboxSeam } from '../outbox-seam.js';
import { knownPatient, registerOrUpdate, updatePatient } from './patient-records.js';
import { changeClass } from './class-change.js';
import { changeIdentifiers } from './identifier-change.js';
import { merge } from './merges.js';
import { cancelAdmission, cancelDischarge } from './stay-cancels.js';
import { cancelTransfer } from './transfer-cancel.js';
import { touchStay, withOutbox } from './touched.js';
import { admitOrUpdate, namedStay, recordTransfer, stayByVisit, updateVisit, wardSql } from './visit-records.js';

/** both outcomes of an event that touches two rows: stale only when nothing was applied */
const combine = (...outcomes: HandlerOutcome[]): HandlerOutcome => (outcomes.includes('applied') ? 'applied' : 'stale');

export function adtHandlers(mrns: MrnBlock, outbox: OutboxSeam): Hl7Handlers {
  const registerAndVisit = (fallback: AdmissionType, visitRequired: boolean) => async (ctx: Hl7Context) => {
    requireSegment(ctx.message, 'PID', 'it names the patient');
    if (visitRequired) requireSegment(ctx.message, 'PV1', 'it describes the stay');
    const { mrn, outcome } = await registerOrUpdate(ctx, mrns);
    if (!visitRequired && !describesVisit(ctx.message)) return outcome;
    return combine(outcome, await admitOrUpdate(ctx, mrn, fallback));
  };

  const handlers: Record<string, Hl7Handler> = {
      A01: registerAndVisit('I', true),
      A04: registerAndVisit('O', false),
      A08: async (ctx) => {
        const mrn = await knownPatient(ctx);
        const outcome = await updatePatient(ctx, mrn);
        if (ctx.message.count('PV1') === 0) return outcome;
        const visitNo = visitNumber(ctx.message);
        if (visitNo === undefined) return outcome;
        const stay = await stayByVisit(ctx.tx, visitNo);
        if (!stay || stay.mrn !== mrn) return outcome;
        return combine(outcome, await updateVisit(ctx, stay.id));
      },
      // a person a master patient index added: A04's patient part, no stay made or touched
      A28: async (ctx) => {
        requireSegment(ctx.message, 'PID', 'it names the patient');
        return (await registerOrUpdate(ctx, mrns)).outcome;
      },
      // a person's demographics (a master patient index's message): A08's patient part, no stay touched
      A31: async (ctx) => updatePatient(ctx, await knownPatient(ctx)),
      A02: transfer,
      A12: cancelTransfer,
      A06: changeClass('A06'),
      A07: changeClass('A07'),
      A03: discharge,
      A13: cancelDischarge,
      A11: cancelAdmission,
      A40: merge,
      A47: changeIdentifiers(mrns),
  };
  return { ADT: Object.fromEntries(Object.entries(handlers).map(([event, h]) => [event, (ctx: Hl7Context) => withOutbox(ctx, outbox, () => h(ctx))])) };
}

/** ADT^A03: discharge time PV1-45 (else EVN-6, EVN-2, MSH-7) and disposition PV1-36. */
async function discharge(ctx: Hl7Context): Promise<HandlerOutcome> {
  const { tx, message, order, systemOfRecord } = ctx;
  const mrn = await knownPatient(ctx);
  requireSegment(message, 'PV1', 'it names the stay');
  const id = await namedStay(ctx, mrn);
  const { disposition, discharged } = readDischarge(message);
  if (id === 'stale') return 'stale';
  const { rows } = await tx.query<{ before: boolean; newer: boolean }>(
    `SELECT ${localTimestamp('$2')} < admitted_at AS before, ${hl7MayOverwrite('encounter', '$3', '$4', systemOfRecord)} AS newer FROM encounter WHERE id = $1`,
    [id, discharged, order.time, order.seq],
  );
  // stale first: the legacy's newer state (its discharge cancelled, the admission time corrected since) is no refusal of this copy's
  if (!rows[0]?.newer) return 'stale';
  if (rows[0].before) throw dischargedBeforeAdmission();
  const changed = await tx.query(
    `UPDATE encounter SET discharged_at = ${localTimestamp('$2')}, discharge_disposition = $3, updated_at = LOCALTIMESTAMP(0)
      WHERE id = $1 AND ROW(discharged_at, discharge_disposition) IS DISTINCT FROM ROW(${localTimestamp('$2')}, $3::text)`,
    [id, discharged, disposition],
  );
  if ((changed.rowCount ?? 0) > 0) touchStay(ctx, id, 'update');
  await tx.query(`UPDATE encounter SET ${hl7Stamp('$2', '$3', systemOfRecord)} WHERE id = $1`, [id, order.time, order.seq]);
  return 'applied';
}

/**
 * ADT^A02: the stay of PV1-19 (or the newest open one) moves to PV1-3 (ward, bed); the move is
 * kept as a transfer at EVN-6 (else EVN-2, MSH-7). The legacy inbound does not apply A02.
 */
async function transfer(ctx: Hl7Context): Promise<HandlerOutcome> {
  const { tx, message, order, systemOfRecord, job } = ctx;
  const mrn = await knownPatient(ctx);
  requireSegment(message, 'PV1', 'it names the new location');
  const id = await namedStay(ctx, mrn);
  const visit = readVisit(message);
  if (visit.pointOfCare === undefined) throw refuse(101, 'PV1-3 (the new location) is missing', at('PV1', 1, 3, 1));
  if (id === 'stale') return 'stale';
  const { rows } = await tx.query<{ newer: boolean; ward_code: string; bed: string | null }>(
    `SELECT ${hl7MayOverwrite('encounter', '$2', '$3', systemOfRecord)} AS newer, ward_code, bed FROM encounter WHERE id = $1`,
    [id, order.time, order.seq],
  );
  const before = rows[0];
  if (!before?.newer) return 'stale';
  const moved = await tx.query<{ ward_code: string; bed: string | null }>(
    `UPDATE encounter SET ward_code = ${wardSql('$2')}, bed = $3, updated_at = LOCALTIMESTAMP(0)
      WHERE id = $1 AND ROW(ward_code, bed) IS DISTINCT FROM ROW(${wardSql('$2')}, $3::text)
      RETURNING ward_code, bed`,
    [id, visit.pointOfCare, visit.bed ?? null],
  );
  const after = moved.rows[0];
  if (after) touchStay(ctx, id, 'update');
  if (after) await recordTransfer(tx, id, before, after, eventTime(message)?.timestamp ?? null, `hl7:${job.messageType}^${job.triggerEvent}`);
  await tx.query(`UPDATE encounter SET ${hl7Stamp('$2', '$3', systemOfRecord)} WHERE id = $1`, [id, order.time, order.seq]);
  return 'applied';
}
