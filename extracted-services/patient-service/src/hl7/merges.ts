/**
 * Merges of patient records: ADT^A40, and the merge that ends an A47's change of MRN
 * (identifier-change.ts), both with the legacy inbound's effect: the merged patient's stays move
 * to the survivor, the record is closed, the merge is recorded (and later messages naming the
 * merged-away MRN mean the survivor).
 */
import { facilityKey, mergeIntoItself, mergePairs, noPatientToMerge, noSurvivor } from '@ficus/hl7-protocol';
import { ADT_USER } from '@ficus/legacy-his/contract';
import { lockEarlyCopies, type Hl7Context, type HandlerOutcome } from '@ficus/service-kit';
import { dropEarlyStaysTheSurvivorHolds } from '../encounters/early-stays.js';
import { survivorOf } from './patient-records.js';
import { snapshotPatient, touchMerge, touchPatient, touchStay } from './touched.js';

/**
 * Before any row lock of the two patients, as the CDC feeds take them: the merge (and, while
 * the legacy holds the record, the stays) of early copies the legacy's CDC may be confirming.
 */
export async function lockMergeCopies(ctx: Hl7Context, survivor: string, merged: string): Promise<void> {
  await lockEarlyCopies(ctx.tx, 'patient-merge', [merged], 'handler');
  if (ctx.systemOfRecord !== 'service') await lockEarlyCopies(ctx.tx, 'encounter', [merged, survivor], 'handler');
}

/**
 * ADT^A40: for each PID/MRG pair, the patient of MRG-1 is merged into the patient of PID-3.
 * The survivor's demographics are not taken from the A40.
 */
export async function merge(ctx: Hl7Context): Promise<HandlerOutcome> {
  const { tx, message } = ctx;
  for (const { pair, survivorMrn, mergedMrn: merged } of mergePairs(message)) {
    const survivor = await survivorOf(tx, survivorMrn);
    if (survivor === merged) throw mergeIntoItself(pair);
    await lockMergeCopies(ctx, survivor, merged);
    const { rows } = await tx.query<{ mrn: string }>('SELECT mrn FROM patient WHERE mrn IN ($1, $2) ORDER BY mrn FOR UPDATE', [survivor, merged]);
    const found = new Set(rows.map((r) => r.mrn));
    if (!found.has(survivor)) throw noSurvivor(pair);
    if (!found.has(merged)) throw noPatientToMerge(pair);
    await mergeLockedPatients(ctx, survivor, merged);
  }
  return 'applied';
}

/** What a merge does once both patients' rows are locked (after lockMergeCopies). */
export async function mergeLockedPatients(ctx: Hl7Context, survivor: string, merged: string): Promise<void> {
  const { tx, message, systemOfRecord } = ctx;
  const service = systemOfRecord === 'service';
  if (!service) await dropEarlyStaysTheSurvivorHolds(tx, merged, survivor);
  const moved = await tx.query<{ id: string }>(
    `UPDATE encounter SET mrn = $1, updated_at = LOCALTIMESTAMP(0)${service ? ', local_changed_at = clock_timestamp()' : ''} WHERE mrn = $2 RETURNING id`,
    [survivor, merged],
  );
  for (const stay of moved.rows) touchStay(ctx, stay.id, 'update');
  await snapshotPatient(ctx, merged);
  const closed = await tx.query(
    `UPDATE patient SET active = false, updated_by = $2, updated_at = LOCALTIMESTAMP(0)${service ? ', local_changed_at = clock_timestamp()' : ''} WHERE mrn = $1 AND active`,
    [merged, ADT_USER],
  );
  if ((closed.rowCount ?? 0) > 0) touchPatient(ctx, merged, 'update');
  const facility = facilityKey(message.header.sendingFacility);
  if (!service) {
    // the legacy's record of this very merge came first through CDC (as CDC matches them): not recorded twice
    const known = await tx.query('SELECT 1 FROM patient_merge WHERE sending_facility = $1 AND control_id = $2 AND merged_mrn = $3 AND NOT provisional', [facility, message.header.controlId, merged]);
    if ((known.rowCount ?? 0) > 0) return;
  }
  const recorded = await tx.query<{ id: string }>(
    `INSERT INTO patient_merge (id, provisional, survivor_mrn, merged_mrn, encounter_count, sending_facility, control_id)
     VALUES (nextval('patient_merge_id_seq'), $1, $2, $3, $4, $5, $6) RETURNING id`,
    [!service, survivor, merged, moved.rowCount ?? 0, facility, message.header.controlId],
  );
  touchMerge(ctx, recorded.rows[0]!.id);
}
