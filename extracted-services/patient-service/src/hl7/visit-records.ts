/**
 * The stay of a PV1 segment, to the same effect as the legacy inbound has on ADMISSION
 * (examples/legacy-his/src/hl7/visit-records.ts): the visit number (PV1-19) finds a stay
 * again, PV1-3 is the ward (a ward code, else a ward alias, else UNK) and bed, PV1-2/PV1-4 the
 * kind of stay, PV1-7 the doctor, PV1-44 the admission. Every change of ward or bed is kept
 * as a transfer.
 */
import { admissionType, plainText, upperText, type AdmissionType, type Hl7Message, type Update } from '@ficus/hl7-protocol';
import { at, dateTimeField, eventTime, hl7MayOverwrite, hl7Stamp, localTimestamp, nth, refuse, type Hl7Context, type HandlerOutcome } from '@ficus/service-kit';
import type pg from 'pg';
import { touchStay } from './touched.js';

export const UNKNOWN_WARD = 'UNK';

export interface VisitFields {
  visitNo: string | undefined;
  pointOfCare: string | undefined;
  bed: Update<string>;
  admissionType: AdmissionType | undefined;
  doctor: Update<string>;
  admitted: string | undefined;
}

export function visitNumber(m: Hl7Message, pv1 = 1): string | undefined {
  const v = m.get(nth('PV1', pv1, '19.1')).trim();
  if (v === '' || v === '""') return undefined;
  if (v.length > 20) throw refuse(104, 'PV1-19 (the visit number) is longer than 20 characters', at('PV1', pv1, 19, 1));
  return v;
}

export function readVisit(m: Hl7Message, pv1 = 1): VisitFields {
  const v = (rest: string) => m.get(nth('PV1', pv1, rest));
  const pointOfCare = upperText(v('3.1'), 40);
  return {
    visitNo: visitNumber(m, pv1),
    pointOfCare: typeof pointOfCare === 'string' ? pointOfCare : undefined,
    bed: upperText(v('3.3'), 6),
    admissionType: admissionType(v('2'), v('4')),
    doctor: plainText(v('7.1'), 10),
    admitted: dateTimeField(m, 'PV1', pv1, 44)?.timestamp,
  };
}

/** SQL for a PV1-3.1 parameter as a ward code: the code itself, its alias, or UNK */
export function wardSql(param: string): string {
  return `COALESCE((SELECT code FROM ward WHERE code = ${param}::text), (SELECT ward_code FROM ward_alias WHERE point_of_care = ${param}::text), '${UNKNOWN_WARD}')`;
}

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
 * An admission (A01) or a registered visit (A04): a new stay, or the patient's stay of the
 * same visit number updated. A visit number of another patient's stay is refused (205).
 * While the legacy system is the system of record a new stay is provisional: the legacy's
 * CDC gives it the legacy's id.
 */
export async function admitOrUpdate(ctx: Hl7Context, mrn: string, fallbackType: AdmissionType, pv1 = 1): Promise<HandlerOutcome> {
  const { tx, message, order, systemOfRecord } = ctx;
  const visit = readVisit(message, pv1);
  if (visit.visitNo !== undefined) {
    const existing = await stayByVisit(tx, visit.visitNo);
    if (existing && existing.mrn !== mrn) throw refuse(205, 'PV1-19 (the visit number) already belongs to another patient', at('PV1', pv1, 19, 1));
    if (existing) return updateVisit(ctx, existing.id, visit, pv1);
  }
  const admitted = visit.admitted ?? eventTime(message)?.timestamp;
  if (admitted === undefined) throw refuse(101, 'PV1-44 (the admit date/time) is missing, and so are EVN-6, EVN-2 and MSH-7', at('PV1', pv1, 44));
  const service = systemOfRecord === 'service';
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
 * Updates the stay with what the PV1 sends (an empty field keeps the stored value), when the
 * message is newer than the stay's history. An admit time after the stay's discharge is
 * refused (102). A move of ward or bed is kept as a transfer.
 */
export async function updateVisit(ctx: Hl7Context, id: string, visit: VisitFields, pv1 = 1): Promise<HandlerOutcome> {
  const { tx, order, systemOfRecord, job } = ctx;
  const { rows } = await tx.query<{ newer: boolean; after: boolean | null }>(
    `SELECT ${hl7MayOverwrite('encounter', '$2', '$3', systemOfRecord)} AS newer, discharged_at < ${localTimestamp('$4')} AS after FROM encounter WHERE id = $1`,
    [id, order.time, order.seq, visit.admitted ?? null],
  );
  if (!rows[0]?.newer) return 'stale';
  if (visit.admitted !== undefined && rows[0].after) throw refuse(102, 'PV1-44 (the admit date/time) is after the discharge of this stay', at('PV1', pv1, 44));
  const columns: string[] = [];
  const expressions: string[] = [];
  const values: unknown[] = [id];
  const set = (column: string, value: unknown, sql: (param: string) => string) => {
    values.push(value);
    columns.push(column);
    expressions.push(sql(`$${values.length}`));
  };
  if (visit.pointOfCare !== undefined) set('ward_code', visit.pointOfCare, wardSql);
  if (visit.bed !== undefined) set('bed', visit.bed, (p) => `${p}::text`);
  if (visit.admissionType !== undefined) set('encounter_class', visit.admissionType, (p) => `${p}::char(1)`);
  if (visit.doctor !== undefined) set('attending_doctor_id', visit.doctor, (p) => `${p}::text`);
  if (visit.admitted !== undefined) set('admitted_at', visit.admitted, localTimestamp);
  if (columns.length > 0) {
    const moved = await tx.query<{ ward_code: string; bed: string | null }>(`SELECT ward_code, bed FROM encounter WHERE id = $1`, [id]);
    const updated = await tx.query<{ ward_code: string; bed: string | null }>(
      `UPDATE encounter SET ${columns.map((c, i) => `${c} = ${expressions[i]}`).join(', ')}, updated_at = LOCALTIMESTAMP(0)
        WHERE id = $1 AND ROW(${columns.join(', ')}) IS DISTINCT FROM ROW(${expressions.join(', ')})
        RETURNING ward_code, bed`,
      values,
    );
    const before = moved.rows[0];
    const after = updated.rows[0];
    if (after) touchStay(ctx, id, 'update');
    if (before && after && (before.ward_code !== after.ward_code || before.bed !== after.bed)) {
      await recordTransfer(tx, id, before, after, eventTime(ctx.message)?.timestamp ?? null, `hl7:${job.messageType}^${job.triggerEvent}`);
    }
  }
  await tx.query(`UPDATE encounter SET ${hl7Stamp('$2', '$3', systemOfRecord)} WHERE id = $1`, [id, order.time, order.seq]);
  return 'applied';
}

export async function recordTransfer(
  tx: pg.PoolClient,
  id: string,
  from: { ward_code: string; bed: string | null },
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
