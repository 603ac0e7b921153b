/**
 * ADT^A47 (change patient identifier list) with the legacy inbound's effect: the MRN is the key
 * of a patient's record here as in the legacy, so a corrected MRN is the patient of MRG-1
 * re-registered under PID-3's MRN (the record as it was, its other identifiers with it, then
 * PID's demographics as an A08 applies them) and merged into it as an A40 merges (merges.ts).
 * A PID-3 MRN a record holds already is refused (205): an A47 never merges two records.
 * Another identifier than the MRN (an account number, another facility's MR) is changed in
 * `patient_identifier`, which the legacy does not keep: nothing of it is written back.
 *
 * While the legacy holds the record, its own copy of the change may come through CDC before the
 * message (in `dual`): the correct MRN's record is then the legacy's, newer than the message (or
 * this very merge is recorded), and the message is stale, not a duplicate. In `new` the new
 * record, the moved stays, the closed one and the merge are written back, as an A40's are.
 */
import { facilityKey, mrnTaken, noPatientToRenumber, otherIdentifiers, readIdentifierChange, type IdentifierChange } from '@ficus/hl7-protocol';
import { ADT_USER, changingWrite } from '@ficus/legacy-his/contract';
import { hl7MayOverwrite, hl7Stamp, type Hl7Context, type HandlerOutcome, type Hl7Handler } from '@ficus/service-kit';
import type { MrnBlock } from '../patients/mrn-block.js';
import { patientWrites } from '../patients/patient-store.js';
import { lockMergeCopies, mergeLockedPatients } from './merges.js';
import { keepIdentifiers, knownPatient } from './patient-records.js';
import { patientUpdate } from './patient-update.js';
import { touchPatient } from './touched.js';

const RECORD = 'family_name, given_name, middle_name, birth_date, sex, address_line, city, state, postal_code, phone, marital_status, active, created_at';

export const changeIdentifiers =
  (mrns: MrnBlock): Hl7Handler =>
  async (ctx) => {
    const change = readIdentifierChange(ctx.message);
    return change.kind === 'mrn' ? changeMrn(ctx, mrns, change) : changeOtherIdentifiers(ctx, change);
  };

async function changeMrn(ctx: Hl7Context, mrns: MrnBlock, { correctMrn, incorrectMrn }: Extract<IdentifierChange, { kind: 'mrn' }>): Promise<HandlerOutcome> {
  const { tx, message, order, systemOfRecord } = ctx;
  const service = systemOfRecord === 'service';
  await lockMergeCopies(ctx, correctMrn, incorrectMrn);
  const { rows } = await tx.query<{ mrn: string; newer: boolean }>(
    `SELECT mrn, ${hl7MayOverwrite('patient', '$3', '$4', systemOfRecord)} AS newer FROM patient WHERE mrn IN ($1, $2) ORDER BY mrn FOR UPDATE`,
    [correctMrn, incorrectMrn, order.time, order.seq],
  );
  if (!rows.some((r) => r.mrn === incorrectMrn)) throw noPatientToRenumber();
  const taken = rows.find((r) => r.mrn === correctMrn);
  if (taken) {
    if (!service && (!taken.newer || (await legacyRecordedIt(ctx, incorrectMrn)))) return 'stale';
    throw mrnTaken();
  }
  // the registration is the person's, kept: created_at is when they were registered, not renumbered
  await tx.query(
    `INSERT INTO patient (mrn, ${RECORD}, updated_at, updated_by${service ? ', local_changed_at' : ''})
     SELECT $1, ${RECORD}, LOCALTIMESTAMP(0), $3${service ? ', clock_timestamp()' : ''} FROM patient WHERE mrn = $2`,
    [correctMrn, incorrectMrn, ADT_USER],
  );
  const w = changingWrite(patientWrites(patientUpdate(message)), 2);
  if (w.values.length > 0) await tx.query(`UPDATE patient SET ${w.set} WHERE mrn = $1`, [correctMrn, ...w.values]);
  await tx.query(`UPDATE patient SET ${hl7Stamp('$2', '$3', systemOfRecord)} WHERE mrn = $1`, [correctMrn, order.time, order.seq]);
  await tx.query('INSERT INTO patient_identifier (mrn, authority, type_code, value) SELECT $1, authority, type_code, value FROM patient_identifier WHERE mrn = $2', [
    correctMrn,
    incorrectMrn,
  ]);
  await keepIdentifiers(tx, correctMrn, otherIdentifiers(message));
  await mrns.learn(tx, [correctMrn]);
  touchPatient(ctx, correctMrn, 'create');
  await mergeLockedPatients(ctx, correctMrn, incorrectMrn);
  return 'applied';
}

/** the legacy's record of this very change came through CDC (its merge, as the merges feed matches them) */
async function legacyRecordedIt(ctx: Hl7Context, incorrectMrn: string): Promise<boolean> {
  const { rowCount } = await ctx.tx.query('SELECT 1 FROM patient_merge WHERE sending_facility = $1 AND control_id = $2 AND merged_mrn = $3 AND NOT provisional', [
    facilityKey(ctx.message.header.sendingFacility),
    ctx.message.header.controlId,
    incorrectMrn,
  ]);
  return (rowCount ?? 0) > 0;
}

/**
 * Identifiers besides the MRN: each of MRG-1's that PID-3 gives another value of the same
 * authority and type is replaced by it; PID-3's other identifiers are kept as an A08 keeps
 * them. One the patient does not hold, or PID-3 gives no replacement of, changes nothing: the
 * message is applied all the same (nothing to refuse: the record is right).
 */
async function changeOtherIdentifiers(ctx: Hl7Context, change: Extract<IdentifierChange, { kind: 'other' }>): Promise<HandlerOutcome> {
  const mrn = await knownPatient(ctx);
  const replaced = change.changes.filter((c) => c.to !== undefined && c.to !== c.from);
  if (replaced.length > 0) {
    await ctx.tx.query(
      `DELETE FROM patient_identifier p USING unnest($2::text[], $3::text[], $4::text[]) AS c(a, t, v)
        WHERE p.mrn = $1 AND upper(p.authority) = upper(c.a) AND upper(p.type_code) = upper(c.t) AND p.value = c.v`,
      [mrn, replaced.map((c) => c.authority), replaced.map((c) => c.type), replaced.map((c) => c.from)],
    );
  }
  await keepIdentifiers(ctx.tx, mrn, otherIdentifiers(ctx.message));
  return 'applied';
}
