/**
 * The patient of a PID segment, to the same effect as the legacy inbound has on PATIENT_MASTER
 * (examples/legacy-his/src/hl7/patient-records.ts): the MRN (PID-3.1), demographics upper-cased
 * and cut to the legacy's widths, `""` clearing a value, an empty field keeping it, PID-30 `Y`
 * closing the record, merges followed. Besides, the other PID-3 identifiers are kept, and each
 * change of a row follows the conflict rule (hl7MayOverwrite).
 */
import type { Hl7Message } from '@ficus/hl7-protocol';
import { maritalCode, plainText, sexCode, stateCode, upperText, zipCode, HL7_NULL, type Update } from '@ficus/hl7-protocol';
import { at, checkMrn, dateTimeField, hl7MayOverwrite, hl7Stamp, localTimestamp, nth, refuse, type Hl7Context, type HandlerOutcome } from '@ficus/service-kit';
import type pg from 'pg';
import type { MrnBlock } from '../patients/mrn-block.js';
import { touchPatient } from './touched.js';

/** who the interface's writes are recorded as (the legacy's LAST_UPD_USER for them) */
export const ADT_USER = 'ADT_IFACE';

export function patientMrn(m: Hl7Message, pid = 1): string {
  return checkMrn(m.get(nth('PID', pid, '3.1')), 'PID', pid, 3, 'PID-3');
}

export interface Demographics {
  lastName: Update<string>;
  firstName: Update<string>;
  middleName: Update<string>;
  dateOfBirth: Update<string>;
  sex: Update<'M' | 'F' | 'U'>;
  line1: Update<string>;
  city: Update<string>;
  state: Update<string>;
  zip: Update<string>;
  phone: Update<string>;
  maritalStatus: Update<string>;
  deceased: boolean;
}

export function readDemographics(m: Hl7Message, pid = 1): Demographics {
  const v = (rest: string) => m.get(nth('PID', pid, rest));
  return {
    lastName: upperText(v('5.1.1'), 35),
    firstName: upperText(v('5.2'), 25),
    middleName: upperText(v('5.3'), 25),
    dateOfBirth: dateTimeField(m, 'PID', pid, 7)?.date,
    sex: sexCode(v('8')),
    line1: addressLine(m, pid),
    city: upperText(v('11.3'), 30),
    state: stateCode(v('11.4')),
    zip: zipCode(v('11.5')),
    phone: phoneNumber(m, pid),
    maritalStatus: maritalCode(v('16.1')),
    deceased: v('30').trim().toUpperCase() === 'Y',
  };
}

function addressLine(m: Hl7Message, pid: number): Update<string> {
  const v = (rest: string) => m.get(nth('PID', pid, rest)).trim();
  if (v('11.1.1') === HL7_NULL) return null;
  const parts = [v('11.1.1'), v('11.1.2'), v('11.1.3'), v('11.2')].filter((p) => p !== '' && p !== HL7_NULL);
  return parts.length === 0 ? undefined : upperText(parts.join(' '), 55);
}

function phoneNumber(m: Hl7Message, pid: number): Update<string> {
  const v = (rest: string) => m.get(nth('PID', pid, rest)).trim();
  const written = plainText(v('13.1'), 20);
  if (written !== undefined) return written;
  const area = v('13.6');
  const local = v('13.7');
  if (local === '') return undefined;
  const number = /^\d{7}$/.test(local) ? `${local.slice(0, 3)}-${local.slice(3)}` : local;
  return plainText(area === '' ? number : `${area}-${number}`, 20);
}

/** PID-3 repetitions after the first (the MRN): other facilities' MRNs, insurance numbers… */
export function otherIdentifiers(m: Hl7Message, pid = 1): { authority: string; type: string; value: string }[] {
  const field = nth('PID', pid, '3');
  const found: { authority: string; type: string; value: string }[] = [];
  for (let r = 2; r <= m.repetitionCount(field); r++) {
    const value = m.get(`${field}(${r}).1`).trim();
    if (value === '' || value === HL7_NULL) continue;
    found.push({ authority: m.get(`${field}(${r}).4.1`).trim(), type: m.get(`${field}(${r}).5`).trim(), value });
  }
  return found;
}

const COLUMNS: [keyof Omit<Demographics, 'deceased'>, string, string][] = [
  ['lastName', 'family_name', 'text'],
  ['firstName', 'given_name', 'text'],
  ['middleName', 'middle_name', 'text'],
  ['dateOfBirth', 'birth_date', 'date'],
  ['sex', 'sex', 'char(1)'],
  ['line1', 'address_line', 'text'],
  ['city', 'city', 'text'],
  ['state', 'state', 'text'],
  ['zip', 'postal_code', 'text'],
  ['phone', 'phone', 'text'],
  ['maritalStatus', 'marital_status', 'char(1)'],
];

/** columns that cannot be cleared: an explicit null (`""`) for them is ignored */
const NOT_NULL = new Set(['lastName', 'firstName', 'dateOfBirth', 'sex']);

/** The patient an MRN means now: itself, or the survivor it was merged into, to the end of a chain. */
export async function survivorOf(tx: pg.PoolClient, mrn: string): Promise<string> {
  let current = mrn;
  for (let i = 0; i < 16; i++) {
    const { rows } = await tx.query<{ survivor_mrn: string }>(
      'SELECT survivor_mrn FROM patient_merge WHERE merged_mrn = $1 ORDER BY merged_at DESC, id DESC LIMIT 1',
      [current],
    );
    const next = rows[0]?.survivor_mrn;
    if (next === undefined || next === mrn) return current;
    current = next;
  }
  return current;
}

/** Locks the patient's row for the rest of the transaction; false when there is no such patient. */
export async function lockPatient(tx: pg.PoolClient, mrn: string): Promise<boolean> {
  const { rowCount } = await tx.query('SELECT 1 FROM patient WHERE mrn = $1 FOR UPDATE', [mrn]);
  return (rowCount ?? 0) > 0;
}

/**
 * The patient of an event that may register them (A01, A04): updated with the demographics
 * sent, or registered under the MRN sent. Answers the MRN the event applies to.
 */
export async function registerOrUpdate(ctx: Hl7Context, mrns: MrnBlock, pid = 1): Promise<{ mrn: string; outcome: HandlerOutcome }> {
  const { tx, message, order, systemOfRecord } = ctx;
  const sent = patientMrn(message, pid);
  const d = readDemographics(message, pid);
  const mrn = await survivorOf(tx, sent);
  if (await lockPatient(tx, mrn)) return { mrn, outcome: await updatePatient(ctx, mrn, d, pid) };
  if (typeof d.lastName !== 'string') throw refuse(101, 'PID-5 (the family name) is needed to register a patient', at('PID', pid, 5, 1));
  if (typeof d.firstName !== 'string') throw refuse(101, 'PID-5.2 (the given name) is needed to register a patient', at('PID', pid, 5, 2));
  if (typeof d.dateOfBirth !== 'string') throw refuse(101, 'PID-7 (the date of birth) is needed to register a patient', at('PID', pid, 7));
  const created = await tx.query(
    `INSERT INTO patient (mrn, family_name, given_name, middle_name, birth_date, sex, address_line, city, state, postal_code, phone,
       marital_status, active, updated_by, ${hl7Columns(systemOfRecord)})
     VALUES ($1, $2, $3, $4, $5::date, $6, $7, $8, $9, $10, $11, $12, $13, $14, ${hl7Values('$15', '$16', systemOfRecord)})
     ON CONFLICT (mrn) DO NOTHING`,
    [
      mrn,
      d.lastName,
      d.firstName,
      d.middleName ?? null,
      d.dateOfBirth,
      d.sex ?? 'U',
      d.line1 ?? null,
      d.city ?? null,
      d.state ?? null,
      d.zip ?? null,
      d.phone ?? null,
      d.maritalStatus ?? null,
      !d.deceased,
      ADT_USER,
      order.time,
      order.seq,
    ],
  );
  if ((created.rowCount ?? 0) === 0) {
    await lockPatient(tx, mrn);
    return { mrn, outcome: await updatePatient(ctx, mrn, d, pid) };
  }
  await mrns.learn(tx, [mrn]);
  await keepIdentifiers(tx, mrn, otherIdentifiers(message, pid));
  touchPatient(ctx, mrn, 'create');
  return { mrn, outcome: 'applied' };
}

const hl7Columns = (regime: string) => `hl7_time, hl7_seq${regime === 'service' ? ', local_changed_at' : ''}`;
const hl7Values = (time: string, seq: string, regime: string) => `${localTimestamp(time)}, ${seq}::bigint${regime === 'service' ? ', clock_timestamp()' : ''}`;

/**
 * Replaces the demographics the message sends, when the message is newer than the row's
 * history (else `stale`, nothing written). A message that changes no value writes nothing the
 * API shows: lastUpdated and the ETag stay.
 */
export async function updatePatient(ctx: Hl7Context, mrn: string, d: Demographics, pid = 1): Promise<HandlerOutcome> {
  const { tx, order, systemOfRecord } = ctx;
  const { rows } = await tx.query<{ newer: boolean }>(`SELECT ${hl7MayOverwrite('patient', '$2', '$3', systemOfRecord)} AS newer FROM patient WHERE mrn = $1`, [
    mrn,
    order.time,
    order.seq,
  ]);
  if (!rows[0]?.newer) return 'stale';
  const columns: string[] = [];
  const expressions: string[] = [];
  const values: unknown[] = [mrn];
  for (const [key, column, type] of COLUMNS) {
    const value = d[key];
    if (value === undefined || (value === null && NOT_NULL.has(key))) continue;
    values.push(value);
    columns.push(column);
    expressions.push(`$${values.length}::${type}`);
  }
  if (d.deceased) {
    columns.push('active');
    expressions.push('false');
  }
  if (columns.length > 0) {
    values.push(ADT_USER);
    const changed = await tx.query(
      `UPDATE patient SET ${columns.map((c, i) => `${c} = ${expressions[i]}`).join(', ')}, updated_by = $${values.length}, updated_at = LOCALTIMESTAMP(0)
        WHERE mrn = $1 AND ROW(${columns.join(', ')}) IS DISTINCT FROM ROW(${expressions.join(', ')})`,
      values,
    );
    if ((changed.rowCount ?? 0) > 0) touchPatient(ctx, mrn, 'update');
  }
  await tx.query(`UPDATE patient SET ${hl7Stamp('$2', '$3', systemOfRecord)} WHERE mrn = $1`, [mrn, order.time, order.seq]);
  await keepIdentifiers(tx, mrn, otherIdentifiers(ctx.message, pid));
  return 'applied';
}

async function keepIdentifiers(tx: pg.PoolClient, mrn: string, ids: { authority: string; type: string; value: string }[]): Promise<void> {
  if (ids.length === 0) return;
  await tx.query(
    `INSERT INTO patient_identifier (mrn, authority, type_code, value)
     SELECT $1, a, t, v FROM unnest($2::text[], $3::text[], $4::text[]) AS i(a, t, v) ON CONFLICT DO NOTHING`,
    [mrn, ids.map((i) => i.authority), ids.map((i) => i.type), ids.map((i) => i.value)],
  );
}
