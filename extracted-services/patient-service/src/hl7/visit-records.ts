/**
 * The stay of a PV1 segment, written to patient-service's encounter table: a new stay read as
 * @ficus/hl7-protocol reads it for the legacy inbound too, a stay already held updated by
 * HL7's rule for updates (visit-update.ts). The visit number (PV1-19) finds a stay again, the
 * point of care is a ward code, else a ward alias, else UNK. Besides, each change follows the
 * conflict rule, and every change of ward or bed is kept as a transfer.
 */
import { admissionTime, admittedAfterDischarge, eventTime, noOpenStay, noStayWithVisitNumber, readVisit, visitNumber, visitOfAnotherPatient, UNKNOWN_WARD, type AdmissionType, type VisitChange } from '@ficus/hl7-protocol';
import { changingWrite, localTimestamp, sqlCast, type ColumnWrite } from '@ficus/legacy-his/contract';
import { hl7MayOverwrite, hl7Stamp, lockEarlyCopies, type Hl7Context, type HandlerOutcome } from '@ficus/service-kit';
import type pg from 'pg';
import { stayOrStale } from './stay-by-state.js';
import { touchStay } from './touched.js';
import { stayChanges, stayUpdate } from './visit-update.js';

/** SQL for a PV1-3.1 parameter as a ward code: the code itself, its alias, or UNK */
export function wardSql(param: string): string {
  return `COALESCE((SELECT code FROM ward WHERE code = ${param}::text), (SELECT ward_code FROM ward_alias WHERE point_of_care = ${param}::text), '${UNKNOWN_WARD}')`;
}

/** the encounter table's column of each value an update may write */
const COLUMNS: Record<VisitChange['field'], Omit<ColumnWrite, 'value'>> = {
  pointOfCare: { column: 'ward_code', sql: wardSql },
  bed: { column: 'bed', sql: sqlCast('text') },
  admissionType: { column: 'encounter_class', sql: sqlCast('char(1)') },
  doctor: { column: 'attending_doctor_id', sql: sqlCast('text') },
  admitted: { column: 'admitted_at', sql: localTimestamp },
};

export interface FoundStay {
  id: string;
  mrn: string;
}

/** The stay with this visit number (any patient), locked for the transaction */
export async function stayByVisit(tx: pg.PoolClient, visitNo: string): Promise<FoundStay | undefined> {
  const { rows } = await tx.query<FoundStay>('SELECT id, mrn FROM encounter WHERE visit_number = $1 FOR UPDATE', [visitNo]);
  return rows[0];
}

/** The patient's newest stay still open, locked for the transaction */
export async function openStayOf(tx: pg.PoolClient, mrn: string): Promise<string | undefined> {
  const { rows } = await tx.query<{ id: string }>('SELECT id FROM encounter WHERE mrn = $1 AND discharged_at IS NULL ORDER BY admitted_at DESC, id DESC LIMIT 1 FOR UPDATE', [mrn]);
  return rows[0]?.id;
}

/**
 * The stay PV1-19 names (it must be the patient's), else the patient's newest open stay; or,
 * while the legacy holds the record, `stale` when that choice is no longer the legacy's
 * (stay-by-state.ts).
 */
export async function namedStay(ctx: Hl7Context, mrn: string): Promise<string | 'stale'> {
  const visitNo = visitNumber(ctx.message);
  return stayOrStale(ctx, mrn, visitNo === undefined, async () => {
    if (visitNo !== undefined) {
      const stay = await stayByVisit(ctx.tx, visitNo);
      if (!stay || stay.mrn !== mrn) throw noStayWithVisitNumber();
      return stay.id;
    }
    const open = await openStayOf(ctx.tx, mrn);
    if (open === undefined) throw noOpenStay();
    return open;
  });
}

/**
 * An admission (A01) or a registered visit (A04): a new stay, or the patient's stay of the
 * same visit number updated. A visit number of another patient's stay is refused (205).
 * While the legacy system is the system of record a new stay is provisional: the legacy's
 * CDC gives it the legacy's id; and when the legacy's copy came first (the same visit number,
 * or without one the same patient and admission time, as CDC matches them) it is that stay.
 */
export async function admitOrUpdate(ctx: Hl7Context, mrn: string, fallbackType: AdmissionType, pv1 = 1): Promise<HandlerOutcome> {
  const { tx, message, order, systemOfRecord } = ctx;
  const visit = readVisit(message, pv1);
  const service = systemOfRecord === 'service';
  await lockEarlyCopies(tx, 'encounter', [mrn], 'handler');
  if (visit.visitNo !== undefined) {
    const existing = await stayByVisit(tx, visit.visitNo);
    if (existing && existing.mrn !== mrn) throw visitOfAnotherPatient(pv1);
    if (existing) return updateVisit(ctx, existing.id, pv1);
  }
  const admitted = admissionTime(message, visit, pv1);
  if (visit.visitNo === undefined && !service) {
    const { rows } = await tx.query<{ id: string }>(
      `SELECT id FROM encounter WHERE mrn = $1 AND visit_number IS NULL AND admitted_at = ${localTimestamp('$2')} AND NOT provisional ORDER BY id LIMIT 1 FOR UPDATE`,
      [mrn, admitted],
    );
    if (rows[0]) return updateVisit(ctx, rows[0].id, pv1);
  }
  const created = await tx.query<{ id: string }>(
    `INSERT INTO encounter (id, provisional, mrn, admitted_at, ward_code, bed, encounter_class, attending_doctor_id, visit_number, hl7_time, hl7_seq${service ? ', local_changed_at' : ''})
     VALUES (nextval('encounter_id_seq'), $1, $2, ${localTimestamp('$3')}, ${wardSql('$4')}, $5, $6, $7, $8, ${localTimestamp('$9')}, $10${service ? ', clock_timestamp()' : ''})
     RETURNING id`,
    [!service, mrn, admitted, visit.pointOfCare ?? null, visit.bed ?? null, visit.admissionType ?? fallbackType, visit.doctor ?? null, visit.visitNo ?? null, order.time, order.seq],
  );
  touchStay(ctx, created.rows[0]!.id, 'create');
  return 'applied';
}

/**
 * Updates the stay with what the n-th PV1 changes (visit-update.ts: HL7's rule for updates,
 * field by field), when the message is newer than the stay's history. An admit time after the
 * stay's discharge is refused (102). A move of ward or bed is kept as a transfer.
 */
export async function updateVisit(ctx: Hl7Context, id: string, pv1 = 1): Promise<HandlerOutcome> {
  const { tx, order, systemOfRecord } = ctx;
  const update = stayUpdate(ctx.message, pv1);
  const { rows } = await tx.query<{ newer: boolean; after: boolean | null; encounter_class: AdmissionType }>(
    `SELECT ${hl7MayOverwrite('encounter', '$2', '$3', systemOfRecord)} AS newer, discharged_at < ${localTimestamp('$4')} AS after, encounter_class FROM encounter WHERE id = $1`,
    [id, order.time, order.seq, update.admitted ?? null],
  );
  if (!rows[0]?.newer) return 'stale';
  if (update.admitted !== undefined && rows[0].after) throw admittedAfterDischarge(pv1);
  await writeStay(ctx, id, stayChanges(rows[0].encounter_class, update));
  await tx.query(`UPDATE encounter SET ${hl7Stamp('$2', '$3', systemOfRecord)} WHERE id = $1`, [id, order.time, order.seq]);
  return 'applied';
}

/**
 * Writes the changes, and a new visit number when given, to the stay (a write that changes
 * nothing writes nothing); a move of ward or bed is kept as a transfer by the message.
 */
export async function writeStay(ctx: Hl7Context, id: string, changes: VisitChange[], visitNo?: string): Promise<void> {
  const { tx, job } = ctx;
  const writes: ColumnWrite[] = changes.map((c) => ({ ...COLUMNS[c.field], value: c.value }));
  if (visitNo !== undefined) writes.push({ column: 'visit_number', sql: sqlCast('text'), value: visitNo });
  const w = changingWrite(writes, 2);
  if (w.values.length === 0) return;
  const moved = await tx.query<{ ward_code: string; bed: string | null }>(`SELECT ward_code, bed FROM encounter WHERE id = $1`, [id]);
  const updated = await tx.query<{ ward_code: string; bed: string | null }>(
    `UPDATE encounter SET ${w.set}, updated_at = LOCALTIMESTAMP(0) WHERE id = $1 AND ${w.changes} RETURNING ward_code, bed`,
    [id, ...w.values],
  );
  const before = moved.rows[0];
  const after = updated.rows[0];
  if (after) touchStay(ctx, id, 'update');
  if (before && after && (before.ward_code !== after.ward_code || before.bed !== after.bed)) {
    await recordTransfer(tx, id, before, after, eventTime(ctx.message)?.timestamp ?? null, `hl7:${job.messageType}^${job.triggerEvent}`);
  }
}

export async function recordTransfer(
  tx: pg.PoolClient,
  id: string,
  from: { ward_code: string | null; bed: string | null },
  to: { ward_code: string; bed: string | null },
  at: string | null,
  source: string,
): Promise<void> {
  await tx.query(
    `INSERT INTO encounter_transfer (encounter_id, from_ward_code, from_bed, to_ward_code, to_bed, transferred_at, source)
     VALUES ($1, $2, $3, $4, $5, COALESCE(${localTimestamp('$6')}, LOCALTIMESTAMP(0)), $7)`,
    [id, from.ward_code, from.bed, to.ward_code, to.bed, at, source],
  );
}
