/**
 * ADT^A13 (cancel discharge) and ADT^A11 (cancel admit), with the legacy inbound's effect and
 * refusals (examples/legacy-his/src/hl7/adt-cancels.ts) so that both sides end alike.
 *
 * A11 is where the two cannot simply do the same thing. The legacy refuses it while results
 * are filed under the stay, and those results are the legacy's and results-service's, never
 * patient-service's: it cannot tell whether the legacy will withdraw the stay. So while the
 * legacy gets the message too (`dual`), a stay the legacy already holds is left to the
 * legacy's decision, which its CDC brings (a delete, or nothing); only an early copy the legacy
 * has not confirmed yet is dropped at once (were the legacy to keep that stay, its CDC brings it
 * as a new row; were the copy kept, a delete arriving as the legacy's first word about the stay
 * would match no row, and the copy would stay for ever). And when the legacy does not get the
 * message (`new`, `retired`), the withdrawal would be written back as a delete of ADMISSION,
 * which the legacy's foreign key refuses while results are filed under it, after the message
 * was acknowledged: A11 is refused instead (a dead letter saying so), and the admission is
 * cancelled in the legacy, whose CDC brings the change here.
 */
import { cancelOfDischargedStay, noDischargedStay, noStayWithVisitNumber, noVisitToCancel, refuse, requireSegment, stayNotDischarged, visitNumber } from '@ficus/hl7-protocol';
import { hl7MayOverwrite, hl7Stamp, lockEarlyCopies, type Hl7Context, type HandlerOutcome } from '@ficus/service-kit';
import { knownPatient } from './patient-records.js';
import { stayOrStale } from './stay-by-state.js';
import { touchStay } from './touched.js';
import { stayByVisit } from './visit-records.js';

interface StayState {
  id: string;
  discharged: boolean;
  provisional: boolean;
  /** the message is newer than the stay's history (the conflict rule) */
  newer: boolean;
}

async function stayState(ctx: Hl7Context, id: string): Promise<StayState> {
  const { rows } = await ctx.tx.query<Omit<StayState, 'id'>>(
    `SELECT discharged_at IS NOT NULL AS discharged, provisional, ${hl7MayOverwrite('encounter', '$2', '$3', ctx.systemOfRecord)} AS newer FROM encounter WHERE id = $1`,
    [id, ctx.order.time, ctx.order.seq],
  );
  return { id, ...rows[0]! };
}

/** The patient's stay of PV1-19, locked; AE 204 when it is not theirs. */
async function patientsStay(ctx: Hl7Context, mrn: string, visitNo: string): Promise<StayState> {
  const stay = await stayByVisit(ctx.tx, visitNo);
  if (!stay || stay.mrn !== mrn) throw noStayWithVisitNumber();
  return stayState(ctx, stay.id);
}

/** The patient's stay discharged last (as the legacy orders them), locked */
async function newestDischargedStay(ctx: Hl7Context, mrn: string): Promise<StayState | undefined> {
  const { rows } = await ctx.tx.query<{ id: string }>(
    'SELECT id FROM encounter WHERE mrn = $1 AND discharged_at IS NOT NULL ORDER BY discharged_at DESC, admitted_at DESC, id DESC LIMIT 1 FOR UPDATE',
    [mrn],
  );
  return rows[0] && stayState(ctx, rows[0].id);
}

/** ADT^A13: the stay of PV1-19 (else the patient's stay discharged last) is open again. */
export async function cancelDischarge(ctx: Hl7Context): Promise<HandlerOutcome> {
  const { tx, message, order, systemOfRecord } = ctx;
  const mrn = await knownPatient(ctx);
  requireSegment(message, 'PV1', 'it names the stay');
  const visitNo = visitNumber(message);
  const stay = await stayOrStale(ctx, mrn, visitNo === undefined, async () => {
    const named = visitNo !== undefined ? await patientsStay(ctx, mrn, visitNo) : await newestDischargedStay(ctx, mrn);
    if (!named) throw noDischargedStay();
    return named;
  });
  if (stay === 'stale') return 'stale';
  // stale before the stay's state is judged: in `dual` the legacy's CDC of a later change (the
  // stay open again and changed since) may be here before this copy, which 207 would dead-letter
  if (!stay.newer) return 'stale';
  if (!stay.discharged) throw stayNotDischarged();
  const changed = await tx.query(
    'UPDATE encounter SET discharged_at = NULL, discharge_disposition = NULL, updated_at = LOCALTIMESTAMP(0) WHERE id = $1 AND discharged_at IS NOT NULL',
    [stay.id],
  );
  if ((changed.rowCount ?? 0) > 0) touchStay(ctx, stay.id, 'update');
  await tx.query(`UPDATE encounter SET ${hl7Stamp('$2', '$3', systemOfRecord)} WHERE id = $1`, [stay.id, order.time, order.seq]);
  return 'applied';
}

/** 207: an A11 the legacy would not get, whose stay's withdrawal could not be written back safely */
const cancelNotWrittenBack = () =>
  refuse(207, 'an admission is not cancelled here when the legacy does not get the A11: its withdrawal cannot be written back while results are filed under it; cancel it in the legacy');

/** ADT^A11: the open stay of PV1-19 is withdrawn (see above for when and by whom). */
export async function cancelAdmission(ctx: Hl7Context): Promise<HandlerOutcome> {
  const { tx, message } = ctx;
  const mrn = await knownPatient(ctx);
  requireSegment(message, 'PV1', 'it names the stay');
  const visitNo = visitNumber(message);
  if (visitNo === undefined) throw noVisitToCancel();
  // before the stay's row lock, as the CDC feed takes them (it may be giving an early copy the legacy's id)
  await lockEarlyCopies(tx, 'encounter', [mrn], 'handler');
  // a stay the legacy deleted (its CDC first) is no longer here: stale, not 204 (stay-by-state.ts)
  const stay = await stayOrStale(ctx, mrn, false, () => patientsStay(ctx, mrn, visitNo));
  if (stay === 'stale') return 'stale';
  // without the legacy, refused whatever its age: nobody else applies it, and the dead letter says what to do
  if (ctx.writeBack) throw stay.discharged ? cancelOfDischargedStay() : cancelNotWrittenBack();
  // with it, stale first (as A13): the legacy may have kept the stay (results under it) and discharged it since
  if (!stay.newer) return 'stale';
  if (stay.discharged) throw cancelOfDischargedStay();
  if (stay.provisional) await tx.query('DELETE FROM encounter WHERE id = $1', [stay.id]);
  return 'applied';
}
