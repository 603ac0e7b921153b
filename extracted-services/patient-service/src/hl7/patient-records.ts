/**
 * The patient of a PID segment, written to patient-service's table with merges followed: a new
 * patient registered with the demographics sent, a known one updated by HL7's rule for updates
 * (patient-update.ts: an empty field keeps a value, `""` deletes the whole field, a field sent
 * replaces the whole field; PID-30 `Y` closes the record). Besides, the other PID-3
 * identifiers are kept, and each change of a row follows the conflict rule (hl7MayOverwrite).
 */
import { followMerges, otherIdentifiers, patientMrn, requireSegment, unknownPatient, type OtherIdentifier } from '@ficus/hl7-protocol';
import { ADT_USER, changingWrite, insertedColumns, localTimestamp } from '@ficus/legacy-his/contract';
import { hl7MayOverwrite, hl7Stamp, type Hl7Context, type HandlerOutcome } from '@ficus/service-kit';
import type pg from 'pg';
import type { MrnBlock } from '../patients/mrn-block.js';
import { patientWrites } from '../patients/patient-store.js';
import { patientRegistration, patientUpdate } from './patient-update.js';
import { snapshotPatient, touchPatient } from './touched.js';

/** The patient an MRN means now: itself, or the survivor it was merged into, to the end of a chain. */
export function survivorOf(tx: pg.PoolClient, mrn: string): Promise<string> {
  return followMerges(mrn, async (merged) => {
    const { rows } = await tx.query<{ survivor_mrn: string }>('SELECT survivor_mrn FROM patient_merge WHERE merged_mrn = $1 ORDER BY merged_at DESC, id DESC LIMIT 1', [merged]);
    return rows[0]?.survivor_mrn;
  });
}

/** Locks the patient's row for the rest of the transaction; false when there is no such patient. */
export async function lockPatient(tx: pg.PoolClient, mrn: string): Promise<boolean> {
  const { rowCount } = await tx.query('SELECT 1 FROM patient WHERE mrn = $1 FOR UPDATE', [mrn]);
  return (rowCount ?? 0) > 0;
}

/** The patient the message names (or the survivor of a merge), locked; 204 when unknown. */
export async function knownPatient(ctx: Hl7Context): Promise<string> {
  requireSegment(ctx.message, 'PID', 'it names the patient');
  const mrn = await survivorOf(ctx.tx, patientMrn(ctx.message));
  if (!(await lockPatient(ctx.tx, mrn))) throw unknownPatient();
  return mrn;
}

/**
 * The patient of an event that may register them (A01, A04): updated with the demographics
 * sent, or registered under the MRN sent. Answers the MRN the event applies to.
 */
export async function registerOrUpdate(ctx: Hl7Context, mrns: MrnBlock, pid = 1): Promise<{ mrn: string; outcome: HandlerOutcome }> {
  const { tx, message, order, systemOfRecord } = ctx;
  const sent = patientMrn(message, pid);
  const mrn = await survivorOf(tx, sent);
  if (await lockPatient(tx, mrn)) return { mrn, outcome: await updatePatient(ctx, mrn, pid) };
  const w = insertedColumns(patientWrites(patientRegistration(message, pid)), 2);
  const [user, time, seq] = [w.values.length + 2, w.values.length + 3, w.values.length + 4];
  const created = await tx.query(
    `INSERT INTO patient (mrn, ${w.columns}, updated_by, ${hl7Columns(systemOfRecord)})
     VALUES ($1, ${w.params}, $${user}, ${hl7Values(`$${time}`, `$${seq}`, systemOfRecord)})
     ON CONFLICT (mrn) DO NOTHING`,
    [mrn, ...w.values, ADT_USER, order.time, order.seq],
  );
  if ((created.rowCount ?? 0) === 0) {
    await lockPatient(tx, mrn);
    return { mrn, outcome: await updatePatient(ctx, mrn, pid) };
  }
  await mrns.learn(tx, [mrn]);
  await keepIdentifiers(tx, mrn, otherIdentifiers(message, pid));
  touchPatient(ctx, mrn, 'create');
  return { mrn, outcome: 'applied' };
}

const hl7Columns = (regime: string) => `hl7_time, hl7_seq${regime === 'service' ? ', local_changed_at' : ''}`;
const hl7Values = (time: string, seq: string, regime: string) => `${localTimestamp(time)}, ${seq}::bigint${regime === 'service' ? ', clock_timestamp()' : ''}`;

/**
 * Writes what the n-th PID changes (patientUpdate), when the message is newer than the row's
 * history (else `stale`, nothing written). A message that changes no value writes nothing the
 * API shows: lastUpdated and the ETag stay.
 */
export async function updatePatient(ctx: Hl7Context, mrn: string, pid = 1): Promise<HandlerOutcome> {
  const { tx, order, systemOfRecord } = ctx;
  const { rows } = await tx.query<{ newer: boolean }>(`SELECT ${hl7MayOverwrite('patient', '$2', '$3', systemOfRecord)} AS newer FROM patient WHERE mrn = $1`, [
    mrn,
    order.time,
    order.seq,
  ]);
  if (!rows[0]?.newer) return 'stale';
  const w = changingWrite(patientWrites(patientUpdate(ctx.message, pid)), 2);
  let changedAny = false;
  if (w.values.length > 0) {
    await snapshotPatient(ctx, mrn);
    const changed = await tx.query(`UPDATE patient SET ${w.set}, updated_by = $${w.values.length + 2}, updated_at = LOCALTIMESTAMP(0) WHERE mrn = $1 AND ${w.changes}`, [
      mrn,
      ...w.values,
      ADT_USER,
    ]);
    changedAny = (changed.rowCount ?? 0) > 0;
    if (changedAny) touchPatient(ctx, mrn, 'update');
  }
  // a message that changed nothing is no local change (the row's own changes stay known by field)
  await tx.query(`UPDATE patient SET ${hl7Stamp('$2', '$3', changedAny ? systemOfRecord : 'legacy')} WHERE mrn = $1`, [mrn, order.time, order.seq]);
  await keepIdentifiers(tx, mrn, otherIdentifiers(ctx.message, pid));
  return 'applied';
}

/** Adds the identifiers besides the MRN (otherIdentifiers) the patient does not hold yet. */
export async function keepIdentifiers(tx: pg.PoolClient, mrn: string, ids: OtherIdentifier[]): Promise<void> {
  if (ids.length === 0) return;
  await tx.query(
    `INSERT INTO patient_identifier (mrn, authority, type_code, value)
     SELECT $1, a, t, v FROM unnest($2::text[], $3::text[], $4::text[]) AS i(a, t, v) ON CONFLICT DO NOTHING`,
    [mrn, ids.map((i) => i.authority), ids.map((i) => i.type), ids.map((i) => i.value)],
  );
}
