/**
 * The legacy's LAB_RESULT through CDC (topic `lab-results`): results upserted by the legacy's
 * id, one statement per job; a result the service took from HL7 before the legacy's CDC
 * (provisional) takes the legacy's id, one early copy per legacy row (early-partners.ts); a
 * version the change replaces is kept; while the service is the system of record, a change
 * older than the row's last local change is recorded as a conflict instead, unless it can be
 * merged field by field with the service's own changes (result-merge.ts); while the legacy holds
 * it, a change of a result whose ORU here is still being written back merges the same way, and
 * the echo of an older write-back keeps what the ORUs changed since (writeback-echoes.ts).
 */
import type pg from 'pg';
import type { ChangeEvent } from '@ficus/contracts';
import { localTimestamp } from '@ficus/legacy-his/contract';
import { cdcMayDelete, cdcMayOverwrite, column, keyValue, lockEarlyCopies, pendingLocal, recordConflicts, type ChangeFeed, type SystemOfRecord } from '@ficus/service-kit';
import { dropCopiesOfMovedRows, findEarlyPartners, giveLegacyIds } from './early-partners.js';
import { mergeResultChanges, takeEchoes } from './result-merge.js';
import { mergeWritebackEchoes } from './writeback-echoes.js';

const VERSIONED = `INSERT INTO lab_result_version (result_id, value, units, reference_range, abnormal_flag, status, resulted_at, updated_at, replaced_by)
                   SELECT id, value, units, reference_range, abnormal_flag, status, resulted_at, updated_at`;

export function labResultsFeed(): ChangeFeed {
  return {
    topic: 'lab-results',
    async apply(changes, ctx) {
      const { tx } = ctx;
      // not beside an HL7 message making an early copy of one of these results (it would be kept twice); first, before any row lock
      await lockEarlyCopies(tx, 'lab-result', column(changes, 'mrn'), 'feed');
      const upserts = changes.filter((c) => c.op !== 'delete');
      // the merge may look at the rule store again (result-merge.ts): the rest goes by what it found
      let systemOfRecord = ctx.systemOfRecord;
      const notApplied: ChangeEvent[] = [];
      let conflicts = 0;
      if (upserts.length > 0) {
        // results taken from HL7 before the legacy's CDC take the legacy's id, one early copy per legacy row
        const partners = await findEarlyPartners(tx, upserts);
        await giveLegacyIds(tx, partners);
        const merge = await mergeResultChanges(tx, upserts, systemOfRecord, ctx.recheck);
        systemOfRecord = merge.regime;
        // (while the service holds the record its echoes do not come here: see `echoes` below)
        const echoed = systemOfRecord === 'legacy' ? await mergeWritebackEchoes(tx, upserts) : { merged: [], filedAsChanged: [] };
        const whole = upserts.filter((c) => !merge.merged.includes(c) && !echoed.merged.includes(c));
        const applied = await upsertWholeRows(tx, whole, systemOfRecord);
        notApplied.push(...whole.filter((c) => !applied.has(keyValue(c, 'resultId'))));
        // a legacy row the legacy moved beside an early copy is that result: the legacy filed it
        // under a patient it merged afterwards, while this service had followed patient-service's
        // merge already
        await dropCopiesOfMovedRows(tx, partners, new Set([...applied, ...merge.filedAsChanged, ...echoed.filedAsChanged]));
        for (const { change, fields } of merge.conflicts) {
          conflicts += await recordConflicts(tx, [change], `results-service kept its own ${fields.join(', ')}: changed here and, without this value, in the legacy (the rest of the change was applied)`);
        }
        for (const { change, fields } of merge.yielded) {
          conflicts += await recordConflicts(
            tx,
            [change],
            `the legacy, which holds the record, kept its own ${fields.join(', ')}: changed there without results-service's value, which is not written back over it (results-service took the legacy's; the whole change was applied)`,
          );
        }
      }
      // (a job's changes of one key are netted into one: no delete here is of a result merged above)
      notApplied.push(...(await deleteResults(tx, changes.filter((c) => c.op === 'delete'), systemOfRecord)));
      conflicts += await recordConflicts(tx, notApplied, 'the result was changed in results-service after this legacy change');
      return { conflicts };
    },
    echoes: (changes, ctx) => takeEchoes(ctx.tx, changes),
    pendingLocal: pendingLocal('lab-results', { table: 'lab_result', keyColumn: 'id', keyField: 'resultId', keyType: 'bigint', notesFields: true }),
  };
}

/** Deletes results where the rule allows (their last versions kept); answers the changes it did not apply. */
async function deleteResults(tx: pg.PoolClient, deletes: ChangeEvent[], systemOfRecord: SystemOfRecord): Promise<ChangeEvent[]> {
  if (deletes.length === 0) return [];
  const ids = deletes.map((c) => keyValue(c, 'resultId'));
  const cts = deletes.map((c) => c.source.commitTime);
  await tx.query(
    `WITH d AS (SELECT * FROM unnest($1::bigint[], $2::text[]) AS d(id, ct)),
          gone AS (DELETE FROM lab_result r USING d WHERE r.id = d.id AND ${cdcMayDelete('r', 'd.ct', systemOfRecord)}
                   RETURNING r.id, r.value, r.units, r.reference_range, r.abnormal_flag, r.status, r.resulted_at, r.updated_at)
     ${VERSIONED}, 'withdrawn' FROM gone`,
    [ids, cts],
  );
  if (systemOfRecord === 'legacy') return [];
  const kept = await tx.query<{ id: string }>('SELECT id::text FROM lab_result WHERE id = ANY($1::bigint[])', [ids]);
  const stillThere = new Set(kept.rows.map((r) => r.id));
  return deletes.filter((c) => stillThere.has(keyValue(c, 'resultId')));
}

/**
 * The legacy's rows as they are, where the conflict rule allows (the version each replaces kept);
 * a whole row ends what the service had pending. Answers the ids written.
 */
async function upsertWholeRows(tx: pg.PoolClient, upserts: ChangeEvent[], systemOfRecord: SystemOfRecord): Promise<Set<string>> {
  if (upserts.length === 0) return new Set();
  const f = (name: string) => column(upserts, name);
  const values = [
    upserts.map((c) => keyValue(c, 'resultId')),
    f('mrn'),
    f('admissionId'),
    f('orderNumber'),
    f('testCode'),
    f('testName'),
    f('value'),
    f('units'),
    f('referenceRange'),
    f('abnormalFlag'),
    f('status'),
    f('collectedDate'),
    f('resultDate'),
    f('lastUpdated'),
    upserts.map((c) => c.source.position),
    upserts.map((c) => c.source.commitTime),
  ];
  const incoming = `SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                            $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[])
                     AS c(id, mrn, adm, order_no, test, name, val, units, ref, flag, stat, collected, resulted, updated, pos, ct)`;
  // the version a change replaces (its value, status, flag or range differ) is kept
  await tx.query(
    `${VERSIONED}, 'cdc' FROM lab_result r WHERE EXISTS (
       SELECT 1 FROM (${incoming}) c WHERE c.id = r.id
          AND ROW(r.value, r.units, r.reference_range, r.abnormal_flag, r.status) IS DISTINCT FROM ROW(c.val, c.units, c.ref, c.flag, c.stat::char(1))
          AND (${systemOfRecord === 'legacy' ? 'TRUE' : 'r.local_changed_at IS NULL OR (c.ct IS NOT NULL AND c.ct::timestamptz > r.local_changed_at)'}))`,
    values,
  );
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO lab_result AS r (id, mrn, encounter_id, order_number, test_code, test_name, value, units, reference_range, abnormal_flag, status,
       collected_at, resulted_at, updated_at, committed_position, committed_at, committed_source_at)
     SELECT id, mrn, adm, order_no, test, name, val, units, ref, flag, stat, ${localTimestamp('collected')}, ${localTimestamp('resulted')},
            ${localTimestamp('updated')}, pos, ${localTimestamp('updated')}, ct::timestamptz
       FROM (${incoming}) c
     ON CONFLICT (id) DO UPDATE SET provisional = false, mrn = excluded.mrn, encounter_id = excluded.encounter_id, order_number = excluded.order_number,
       test_code = excluded.test_code, test_name = excluded.test_name, value = excluded.value, units = excluded.units,
       reference_range = excluded.reference_range, abnormal_flag = excluded.abnormal_flag, status = excluded.status,
       collected_at = excluded.collected_at, resulted_at = excluded.resulted_at, updated_at = excluded.updated_at,
       committed_position = excluded.committed_position, committed_at = excluded.committed_at, committed_source_at = excluded.committed_source_at,
       local_changed_fields = NULL
     WHERE ${cdcMayOverwrite('r', systemOfRecord)}
     RETURNING r.id::text`,
    values,
  );
  return new Set(rows.map((r) => r.id));
}
