/**
 * The legacy tables patient-service learns through CDC (CDC-TOPICS.md): `patients`, `wards`,
 * `admissions`, `patient-merges`. One statement per table per job (INSERT … SELECT FROM
 * unnest … ON CONFLICT), values taken as the legacy committed them. Rows the service made
 * from HL7 before the legacy's CDC (provisional: a service id) take the legacy's id when their
 * change arrives. While the service is the system of record, a change older than the row's
 * last local change is recorded as a conflict instead (cdcMayOverwrite), unless it can be
 * merged field by field with the service's own changes (patient-merge.ts); while the legacy
 * holds it, a change of a patient whose HL7 change here is still being written back merges
 * the same way, and the echo of an older write-back keeps what the service changed since
 * (writeback-echoes.ts). A legacy key change meeting the service's own changes moves the
 * patient to the new key (patient-key-moves.ts).
 */
import type { ChangeEvent } from '@ficus/contracts';
import { localTimestamp } from '@ficus/legacy-his/contract';
import { cdcMayDelete, cdcMayOverwrite, column, keyValue, lockEarlyCopies, pendingLocal, recordConflicts, type ApplyContext, type ChangeFeed, type FeedReport } from '@ficus/service-kit';
import { dropEarlyStaysLegacyRowsHold, dropEarlyStaysRenumbered } from '../encounters/early-stays.js';
import { RECORD_LEGACY_STAY_DELETES } from '../encounters/legacy-stay-changes.js';
import { claimVisitNumbers } from '../encounters/visit-numbers.js';
import type { MrnBlock } from '../patients/mrn-block.js';
import { followKeyMoves } from './patient-key-moves.js';
import { mergePatientChanges, takeEchoStamps, type MergeOutcome } from './patient-merge.js';
import { mergeWritebackEchoes } from './writeback-echoes.js';

const split = (changes: ChangeEvent[]) => ({ upserts: changes.filter((c) => c.op !== 'delete'), deletes: changes.filter((c) => c.op === 'delete') });
const commitTimes = (changes: ChangeEvent[]) => changes.map((c) => c.source.commitTime);
const positions = (changes: ChangeEvent[]) => changes.map((c) => c.source.position);
const NO_CONFLICT: FeedReport = { conflicts: 0 };

/**
 * Deletes rows by key where the rule allows; answers the changes it did not apply. `then`, when
 * given, is a statement over the deleted rows (the CTE `gone`: each row's columns and the
 * delete's `deleted_commit_time`).
 */
async function deleteRows(ctx: ApplyContext, deletes: ChangeEvent[], table: string, keyColumn: string, keyField: string, keyType: string, then = 'SELECT 1'): Promise<ChangeEvent[]> {
  if (deletes.length === 0) return [];
  const keys = deletes.map((c) => keyValue(c, keyField));
  await ctx.tx.query(
    `WITH gone AS (DELETE FROM ${table} t USING unnest($1::${keyType}[], $2::text[]) AS d(k, ct) WHERE t.${keyColumn} = d.k AND ${cdcMayDelete('t', 'd.ct', ctx.systemOfRecord)}
                   RETURNING t.*, d.ct AS deleted_commit_time)
     ${then}`,
    [keys, commitTimes(deletes)],
  );
  if (ctx.systemOfRecord === 'legacy') return [];
  const { rows } = await ctx.tx.query<{ k: string }>(`SELECT ${keyColumn}::text AS k FROM ${table} WHERE ${keyColumn} = ANY($1::${keyType}[])`, [keys]);
  const kept = new Set(rows.map((r) => r.k));
  return deletes.filter((_, i) => kept.has(keys[i]!));
}

export function patientsFeed(mrns: MrnBlock): ChangeFeed {
  return {
    topic: 'patients',
    async apply(changes, given) {
      // a legacy key change meeting the service's own changes: the patient follows the key (one person, not two)
      const moved = await followKeyMoves(given.tx, changes, given.systemOfRecord);
      const { upserts: incoming, deletes } = split(moved.length > 0 ? changes.filter((c) => !moved.includes(c)) : changes);
      const merge: MergeOutcome = await mergePatientChanges(given.tx, incoming, given.systemOfRecord, given.recheck);
      const ctx: ApplyContext = { ...given, systemOfRecord: merge.regime };
      const notApplied = await deleteRows(ctx, deletes, 'patient', 'mrn', 'mrn', 'text');
      // (while the service holds the record its echoes do not come here: see `echoes` below)
      const echoed = ctx.systemOfRecord === 'legacy' ? await mergeWritebackEchoes(ctx.tx, incoming) : [];
      const upserts = incoming.filter((c) => !merge.merged.includes(c) && !echoed.includes(c));
      if (upserts.length > 0) {
        const f = (name: string) => column(upserts, name);
        const { rows } = await ctx.tx.query<{ mrn: string }>(
          `INSERT INTO patient AS p (mrn, family_name, given_name, middle_name, birth_date, sex, address_line, city, state, postal_code, phone,
             marital_status, active, created_at, updated_at, updated_by, committed_position, committed_at, committed_source_at)
           SELECT mrn, fam, giv, mid, dob::date, sex, line1, city, state, zip, phone, marital, active = 'Y', ${localTimestamp('created')},
                  ${localTimestamp('updated')}, updated_by, pos, ${localTimestamp('updated')}, ct::timestamptz
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                         $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[])
                  AS c(mrn, fam, giv, mid, dob, sex, line1, city, state, zip, phone, marital, active, created, updated, updated_by, pos, ct)
           ON CONFLICT (mrn) DO UPDATE SET
             family_name = excluded.family_name, given_name = excluded.given_name, middle_name = excluded.middle_name, birth_date = excluded.birth_date,
             sex = excluded.sex, address_line = excluded.address_line, city = excluded.city, state = excluded.state, postal_code = excluded.postal_code,
             phone = excluded.phone, marital_status = excluded.marital_status, active = excluded.active, created_at = excluded.created_at,
             updated_at = excluded.updated_at, updated_by = excluded.updated_by, committed_position = excluded.committed_position,
             committed_at = excluded.committed_at, committed_source_at = excluded.committed_source_at, local_changed_fields = NULL
           WHERE ${cdcMayOverwrite('p', ctx.systemOfRecord)}
           RETURNING p.mrn`,
          [
            upserts.map((c) => keyValue(c, 'mrn')),
            f('lastName'),
            f('firstName'),
            f('middleName'),
            f('dateOfBirth'),
            f('sex'),
            f('addressLine1'),
            f('city'),
            f('state'),
            f('zip'),
            f('phone'),
            f('maritalStatus'),
            f('active'),
            f('created'),
            f('lastUpdated'),
            f('lastUpdatedBy'),
            positions(upserts),
            commitTimes(upserts),
          ],
        );
        const applied = new Set(rows.map((r) => r.mrn));
        notApplied.push(...upserts.filter((c) => !applied.has(keyValue(c, 'mrn'))));
      }
      await mrns.learn(ctx.tx, changes.map((c) => keyValue(c, 'mrn')));
      let conflicts = await recordConflicts(ctx.tx, notApplied, 'the patient was changed in patient-service after this legacy change');
      for (const { change, fields } of merge.conflicts) {
        conflicts += await recordConflicts(ctx.tx, [change], `patient-service kept its own ${fields.join(', ')}: changed here and, without this value, in the legacy (the rest of the change was applied)`);
      }
      for (const { change, fields } of merge.yielded) {
        conflicts += await recordConflicts(
          ctx.tx,
          [change],
          `the legacy, which holds the record, kept its own ${fields.join(', ')}: changed there without patient-service's value, which is not written back over it (patient-service took the legacy's; the whole change was applied)`,
        );
      }
      return { conflicts };
    },
    echoes: (changes, ctx) => takeEchoStamps(ctx.tx, changes),
    pendingLocal: pendingLocal('patients', { table: 'patient', keyColumn: 'mrn', keyField: 'mrn', keyType: 'text', notesFields: true }),
  };
}

export function wardsFeed(): ChangeFeed {
  return {
    topic: 'wards',
    async apply(changes, ctx) {
      const { upserts, deletes } = split(changes);
      if (deletes.length > 0) {
        // a ward still named by a stay stays (its stays keep their code)
        await ctx.tx.query('DELETE FROM ward w WHERE w.code = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM encounter e WHERE e.ward_code = w.code)', [deletes.map((c) => keyValue(c, 'code'))]);
      }
      if (upserts.length > 0) {
        await ctx.tx.query(
          `INSERT INTO ward (code, description, committed_position) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
           ON CONFLICT (code) DO UPDATE SET description = excluded.description, committed_position = excluded.committed_position`,
          [upserts.map((c) => keyValue(c, 'code')), column(upserts, 'description'), positions(upserts)],
        );
      }
      return NO_CONFLICT;
    },
  };
}

export function admissionsFeed(): ChangeFeed {
  return {
    topic: 'admissions',
    async apply(changes, ctx) {
      // not beside an HL7 message making an early copy of one of these stays; first, before any row lock
      await lockEarlyCopies(ctx.tx, 'encounter', column(changes, 'mrn'), 'feed');
      const { upserts, deletes } = split(changes);
      // a deleted stay leaves no legacy state behind for an HL7 copy to be judged against: kept per patient
      const notApplied = await deleteRows(ctx, deletes, 'encounter', 'id', 'admissionId', 'bigint', RECORD_LEGACY_STAY_DELETES);
      if (upserts.length > 0) {
        const f = (name: string) => column(upserts, name);
        const ids = upserts.map((c) => keyValue(c, 'admissionId'));
        // stays the service made from HL7 before the legacy's CDC take the legacy's id: the same
        // visit number, or (without one) the same patient and admission time
        await ctx.tx.query(
          `WITH c AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS c(id, visit, mrn, admitted)),
                m AS (SELECT DISTINCT ON (e.id) e.id AS old_id, c.id AS new_id
                        FROM c JOIN encounter e ON e.provisional
                         AND ((c.visit IS NOT NULL AND e.visit_number = c.visit)
                           OR (c.visit IS NULL AND e.visit_number IS NULL AND e.mrn = c.mrn AND e.admitted_at = ${localTimestamp('c.admitted')}))
                       WHERE NOT EXISTS (SELECT 1 FROM encounter x WHERE x.id = c.id)
                       ORDER BY e.id, c.id)
           UPDATE encounter e SET id = m.new_id, provisional = false FROM m WHERE e.id = m.old_id`,
          [ids, f('visitNumber'), f('mrn'), f('admitDate')],
        );
        await dropEarlyStaysRenumbered(ctx.tx, ids, f('visitNumber'), f('mrn'));
        const before = await ctx.tx.query<{ id: string; ward_code: string; bed: string | null }>('SELECT id, ward_code, bed FROM encounter WHERE id = ANY($1::bigint[]) FOR UPDATE', [ids]);
        const visits = await claimVisitNumbers(ctx.tx, upserts, ctx.systemOfRecord);
        const { rows } = await ctx.tx.query<{ id: string; ward_code: string; bed: string | null; updated: string }>(
          `INSERT INTO encounter AS e (id, mrn, admitted_at, discharged_at, ward_code, bed, encounter_class, attending_doctor_id, discharge_disposition,
             visit_number, updated_at, committed_position, committed_at, committed_source_at)
           SELECT id, mrn, ${localTimestamp('admitted')}, ${localTimestamp('discharged')}, ward, bed, cls, doctor, disposition, visit,
                  ${localTimestamp('updated')}, pos, ${localTimestamp('updated')}, ct::timestamptz
             FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                         $11::text[], $12::text[], $13::text[])
                  AS c(id, mrn, admitted, discharged, ward, bed, cls, doctor, disposition, visit, updated, pos, ct)
           ON CONFLICT (id) DO UPDATE SET
             provisional = false, mrn = excluded.mrn, admitted_at = excluded.admitted_at, discharged_at = excluded.discharged_at,
             ward_code = excluded.ward_code, bed = excluded.bed, encounter_class = excluded.encounter_class,
             attending_doctor_id = excluded.attending_doctor_id, discharge_disposition = excluded.discharge_disposition,
             visit_number = excluded.visit_number, updated_at = excluded.updated_at, committed_position = excluded.committed_position,
             committed_at = excluded.committed_at, committed_source_at = excluded.committed_source_at
           WHERE ${cdcMayOverwrite('e', ctx.systemOfRecord)}
           RETURNING e.id, e.ward_code, e.bed, to_char(e.updated_at, 'YYYY-MM-DD HH24:MI:SS') AS updated`,
          [ids, f('mrn'), f('admitDate'), f('dischargeDate'), f('ward'), f('bed'), f('admissionType'), f('attendingDoctorId'), f('dischargeDisposition'), visits, f('lastUpdated'), positions(upserts), commitTimes(upserts)],
        );
        // a move made on a legacy screen is a transfer too
        const was = new Map(before.rows.map((r) => [r.id, r]));
        const moves = rows.filter((r) => {
          const b = was.get(r.id);
          return b !== undefined && (b.ward_code !== r.ward_code || b.bed !== r.bed);
        });
        if (moves.length > 0) {
          await ctx.tx.query(
            `INSERT INTO encounter_transfer (encounter_id, from_ward_code, from_bed, to_ward_code, to_bed, transferred_at, source)
             SELECT id, fw, fb, tw, tb, moved::timestamp, 'cdc' FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS m(id, fw, fb, tw, tb, moved)`,
            [moves.map((m) => m.id), moves.map((m) => was.get(m.id)!.ward_code), moves.map((m) => was.get(m.id)!.bed), moves.map((m) => m.ward_code), moves.map((m) => m.bed), moves.map((m) => m.updated)],
          );
        }
        const applied = new Set(rows.map((r) => r.id));
        notApplied.push(...upserts.filter((c) => !applied.has(keyValue(c, 'admissionId'))));
        // the rekey above matches new rows only; a stay the legacy's merge moved lands here
        await dropEarlyStaysLegacyRowsHold(ctx.tx, [...applied]);
      }
      return { conflicts: await recordConflicts(ctx.tx, notApplied, 'the stay was changed in patient-service after this legacy change') };
    },
    pendingLocal: pendingLocal('admissions', { table: 'encounter', keyColumn: 'id', keyField: 'admissionId', keyType: 'bigint', notesFields: false }),
  };
}

export function mergesFeed(): ChangeFeed {
  return {
    topic: 'patient-merges',
    async apply(changes, ctx) {
      await lockEarlyCopies(ctx.tx, 'patient-merge', column(changes, 'mergedMrn'), 'feed');
      const { upserts, deletes } = split(changes);
      if (deletes.length > 0) await ctx.tx.query('DELETE FROM patient_merge WHERE id = ANY($1::bigint[])', [deletes.map((c) => keyValue(c, 'mergeId'))]);
      if (upserts.length === 0) return NO_CONFLICT;
      const f = (name: string) => column(upserts, name);
      const ids = upserts.map((c) => keyValue(c, 'mergeId'));
      // a merge applied here from the same A40 (same facility, control id and patient) takes the legacy's id
      await ctx.tx.query(
        `WITH c AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS c(id, facility, control, merged)),
              m AS (SELECT DISTINCT ON (p.id) p.id AS old_id, c.id AS new_id FROM c JOIN patient_merge p
                       ON p.provisional AND p.sending_facility = c.facility AND p.control_id = c.control AND p.merged_mrn = c.merged
                     WHERE NOT EXISTS (SELECT 1 FROM patient_merge x WHERE x.id = c.id) ORDER BY p.id, c.id)
         UPDATE patient_merge p SET id = m.new_id, provisional = false FROM m WHERE p.id = m.old_id`,
        [ids, f('sendingFacility'), f('controlId'), f('mergedMrn')],
      );
      await ctx.tx.query(
        `INSERT INTO patient_merge (id, survivor_mrn, merged_mrn, encounter_count, result_count, sending_facility, control_id, merged_at, committed_position)
         SELECT id, survivor, merged, encounters::int, results::int, facility, control, ${localTimestamp('merged_at')}, pos
           FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
                AS c(id, survivor, merged, encounters, results, facility, control, merged_at, pos)
         ON CONFLICT (id) DO UPDATE SET provisional = false, survivor_mrn = excluded.survivor_mrn, merged_mrn = excluded.merged_mrn,
           encounter_count = excluded.encounter_count, result_count = excluded.result_count, sending_facility = excluded.sending_facility,
           control_id = excluded.control_id, merged_at = excluded.merged_at, committed_position = excluded.committed_position`,
        [ids, f('survivorMrn'), f('mergedMrn'), f('admissionCount'), f('resultCount'), f('sendingFacility'), f('controlId'), f('mergedAt'), positions(upserts)],
      );
      return NO_CONFLICT;
    },
  };
}
