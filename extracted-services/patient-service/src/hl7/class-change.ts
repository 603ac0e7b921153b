/**
 * ADT^A06 (an outpatient or emergency visit becomes an inpatient stay) and ADT^A07 (the
 * reverse), with the legacy inbound's effect and refusals: @ficus/hl7-protocol's class-change.ts
 * reads the message for both, so the same stay changes the same way, and the same message is
 * refused in the same words (the legacy's ERR, the service's dead letter).
 *
 * Besides, the conflict rule, as for every change of a stay: a message older than the stay's
 * history is stale before anything else is judged. In `dual` the legacy's copy of this very
 * change may come through CDC first; the stay then holds the legacy's newer state (and its new
 * number, which the stay is then found by): the message is stale, where judging it first would
 * have found the visit already renumbered or, discharged since, refused it. A visit named by
 * state (no PV1-19, no MRG-5: the newest open one) or by a number the service has no stay of is
 * judged against all the patient's stays first (stay-by-state.ts). A move of ward or bed
 * is kept as a transfer, and in `new` the stay's new state is written back whole, its class and
 * number with it.
 *
 * An early copy renumbered here (MRG-5) is found by its new number when the legacy's row of the
 * stay comes through CDC carrying it; when that row came first under its old number, the legacy's
 * renumbering drops the copy then (early-stays.ts).
 */
import { classChangeOfDischargedStay, readClassChange, requireSegment, stayToChange, type ClassChangeEvent } from '@ficus/hl7-protocol';
import { hl7MayOverwrite, hl7Stamp, lockEarlyCopies, type Hl7Context, type HandlerOutcome, type Hl7Handler } from '@ficus/service-kit';
import { knownPatient } from './patient-records.js';
import { stayOrStale } from './stay-by-state.js';
import { openStayOf, stayByVisit, writeStay } from './visit-records.js';

export const changeClass =
  (event: ClassChangeEvent): Hl7Handler =>
  async (ctx: Hl7Context): Promise<HandlerOutcome> => {
    const { tx, message, order, systemOfRecord } = ctx;
    const mrn = await knownPatient(ctx);
    requireSegment(message, 'PV1', 'it names the visit');
    const change = readClassChange(message, event);
    // before the stays' row locks, as the CDC feed takes them (it may be giving an early copy the legacy's id)
    await lockEarlyCopies(tx, 'encounter', [mrn], 'handler');
    const byState = change.visitNo === undefined && change.priorVisitNo === undefined;
    const found = await stayOrStale(ctx, mrn, byState, () =>
      stayToChange(change, mrn, {
        byVisit: (visitNo) => stayByVisit(tx, visitNo),
        newestOpen: async () => {
          const id = await openStayOf(tx, mrn);
          return id === undefined ? undefined : { id, mrn };
        },
      }),
    );
    if (found === 'stale') return 'stale';
    const { stay, namedBy, renumber } = found;
    const { rows } = await tx.query<{ newer: boolean; discharged: boolean }>(
      `SELECT ${hl7MayOverwrite('encounter', '$2', '$3', systemOfRecord)} AS newer, discharged_at IS NOT NULL AS discharged FROM encounter WHERE id = $1`,
      [stay.id, order.time, order.seq],
    );
    if (!rows[0]?.newer) return 'stale';
    if (rows[0].discharged) throw classChangeOfDischargedStay(event, namedBy);
    await writeStay(ctx, stay.id, change.changes, renumber);
    await tx.query(`UPDATE encounter SET ${hl7Stamp('$2', '$3', systemOfRecord)} WHERE id = $1`, [stay.id, order.time, order.seq]);
    return 'applied';
  };
