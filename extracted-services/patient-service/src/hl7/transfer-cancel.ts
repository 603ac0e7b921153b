/**
 * ADT^A12 (cancel transfer): a transfer (A02) sent in error is undone. HL7 v2.5 chapter 3: A12
 * cancels the stay's last A02, and its PV1-3 is where the patient goes back to. The legacy
 * inbound applies neither A02 nor A12 (AR 201), so only the service has a transfer to undo.
 *
 * Which transfer: the stay's last recorded move, and only when an A02 made it. A move made after
 * the A02 (an A08's PV1-3, or a legacy screen seen through CDC, which puts the legacy's own
 * location back while it is the system of record) means the A02 is no longer where the stay is:
 * withdrawing the A02 under it would move the patient somewhere nobody sent, and withdrawing
 * the later move would undo a move nobody cancelled. Such an A12, like one for a stay without
 * any transfer, is HL7 207 (a dead letter saying so, nothing changed); the location is then
 * corrected with an A08.
 *
 * Where the stay goes: PV1-3 when given (as a whole, like A02's: PV1-3 without a bed is no bed),
 * else the withdrawn transfer's from-location. When PV1-3 differs from that from-location the
 * message is followed (the sender knows where the patient is), and the difference is recorded
 * as a move from that location to PV1-3 by this A12, so the transfers still chain: each one
 * starts where the one before it ended, and the last ends where the stay is (the FHIR
 * Encounter's location history is built that way). PV1-11 (temporary location) is not read:
 * the service keeps none.
 *
 * The withdrawn transfer's row is deleted: it is a move that did not happen, and the A12's own
 * record (ficus_hl7_applied) says that it was cancelled. Ordering is A02's: an A12 older than the
 * stay's history (MSH-7, then receive order) is stale before anything else is judged, and the
 * stay's change goes to the outbox (written back as the admission's ward and bed) as A02's does.
 */
import { at, eventTime, readVisit, refuse, requireSegment } from '@ficus/hl7-protocol';
import { hl7MayOverwrite, hl7Stamp, type Hl7Context, type HandlerOutcome } from '@ficus/service-kit';
import { knownPatient } from './patient-records.js';
import { touchStay } from './touched.js';
import { namedStay, recordTransfer, wardSql } from './visit-records.js';

const A02_SOURCE = 'hl7:ADT^A02';

interface Place {
  ward_code: string;
  bed: string | null;
}

const nothingToCancel = (why: string) => refuse(207, `there is no transfer to cancel: ${why}`);

export async function cancelTransfer(ctx: Hl7Context): Promise<HandlerOutcome> {
  const { tx, message, order, systemOfRecord, job } = ctx;
  const mrn = await knownPatient(ctx);
  requireSegment(message, 'PV1', 'it names the stay');
  const id = await namedStay(ctx, mrn);
  if (id === 'stale') return 'stale';
  const { rows } = await tx.query<{ newer: boolean }>(`SELECT ${hl7MayOverwrite('encounter', '$2', '$3', systemOfRecord)} AS newer FROM encounter WHERE id = $1`, [
    id,
    order.time,
    order.seq,
  ]);
  if (!rows[0]?.newer) return 'stale';
  const last = await tx.query<{ id: string; source: string; from_ward_code: string | null; from_bed: string | null }>(
    'SELECT id, source, from_ward_code, from_bed FROM encounter_transfer WHERE encounter_id = $1 ORDER BY id DESC LIMIT 1',
    [id],
  );
  const withdrawn = last.rows[0];
  if (!withdrawn) throw nothingToCancel('the stay has no transfer recorded');
  if (withdrawn.source !== A02_SOURCE) throw nothingToCancel('the stay was moved since its last transfer (A02) by another message or in the legacy');

  const visit = readVisit(message);
  const from: Place | undefined = withdrawn.from_ward_code === null ? undefined : { ward_code: withdrawn.from_ward_code, bed: withdrawn.from_bed };
  let back: Place;
  if (visit.pointOfCare !== undefined) {
    const ward = await tx.query<{ code: string }>(`SELECT ${wardSql('$1')} AS code`, [visit.pointOfCare]);
    back = { ward_code: ward.rows[0]!.code, bed: visit.bed ?? null };
  } else if (from) {
    back = from;
  } else {
    throw refuse(101, 'PV1-3 (the location the patient goes back to) is missing, and the transfer does not say where the stay was', at('PV1', 1, 3, 1));
  }

  await tx.query('DELETE FROM encounter_transfer WHERE id = $1', [withdrawn.id]);
  const moved = await tx.query(
    `UPDATE encounter SET ward_code = $2, bed = $3, updated_at = LOCALTIMESTAMP(0)
      WHERE id = $1 AND ROW(ward_code, bed) IS DISTINCT FROM ROW($2::text, $3::text)`,
    [id, back.ward_code, back.bed],
  );
  if ((moved.rowCount ?? 0) > 0) touchStay(ctx, id, 'update');
  if (!from || from.ward_code !== back.ward_code || from.bed !== back.bed) {
    await recordTransfer(tx, id, from ?? { ward_code: null, bed: null }, back, eventTime(message)?.timestamp ?? null, `hl7:${job.messageType}^${job.triggerEvent}`);
  }
  await tx.query(`UPDATE encounter SET ${hl7Stamp('$2', '$3', systemOfRecord)} WHERE id = $1`, [id, order.time, order.seq]);
  return 'applied';
}
