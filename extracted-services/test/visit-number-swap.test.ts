/**
 * A visit number moved between stays in one legacy transaction (a registrar fixing two swapped
 * numbers), on real queues and databases: the stays' changes come in different partitions,
 * and patient-service ends with each number on the stay the legacy has it on, without dead
 * letters, and later changes of those stays and of other stays in their partitions go through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyText, partitionOf } from '@ficus/contracts';
import { deadLetters, startServiceScene, type ServiceScene } from '../../test-support/service-scene.js';

let scene: ServiceScene;

beforeAll(async () => {
  scene = await startServiceScene({ prefix: 'svc_visitswap', redisDb: 4, patients: 40, seed: 4_404 });
  await scene.cdc.snapshot();
  await scene.drain();
});
afterAll(async () => {
  await scene?.close();
});

const serviceVisits = async (ids: number[]) =>
  (await scene.patients.pool.query<{ id: string; visit_number: string | null; bed: string | null }>('SELECT id, visit_number, bed FROM encounter WHERE id = ANY($1::bigint[]) ORDER BY id', [ids])).rows.map((r) => [
    Number(r.id),
    r.visit_number,
    r.bed,
  ]);
const legacyVisits = async (ids: number[]) =>
  (await scene.legacy.pool.query<{ adm_id: number; visit_no: string | null; bed_no: string | null }>('SELECT ADM_ID, VISIT_NO, BED_NO FROM ADMISSION WHERE ADM_ID = ANY($1::int[]) ORDER BY ADM_ID', [ids])).rows.map((r) => [
    r.adm_id,
    r.visit_no,
    r.bed_no,
  ]);
const conflicts = async () => (await scene.patients.pool.query<{ n: string }>("SELECT count(*)::text AS n FROM ficus_change_conflicts")).rows[0]!.n;

describe('visit numbers swapped between stays in one legacy transaction', () => {
  it("end on the stays the legacy has them on, whichever partition comes first, and the stays' later changes apply", async () => {
    // two stays of different patients whose changes travel in different partitions
    const { rows } = await scene.legacy.pool.query<{ adm_id: number; pat_mrn: string }>('SELECT ADM_ID, PAT_MRN FROM ADMISSION ORDER BY ADM_ID');
    const lane = (id: number) => partitionOf(keyText({ admissionId: id }), 8);
    const a = rows[0]!;
    const b = rows.find((r) => r.pat_mrn !== a.pat_mrn && lane(r.adm_id) !== lane(a.adm_id))!;
    const ids = [a.adm_id, b.adm_id].sort((x, y) => x - y);
    await scene.legacy.pool.query("UPDATE ADMISSION SET VISIT_NO = CASE ADM_ID WHEN $1 THEN 'VSWAP-X' ELSE 'VSWAP-Y' END WHERE ADM_ID IN ($1, $2)", [a.adm_id, b.adm_id]);
    await scene.cdc.sync();
    await scene.drain();
    expect(await serviceVisits(ids)).toEqual(await legacyVisits(ids));

    for (let round = 0; round < 3; round++) {
      // the fix, as a legacy screen makes it: one transaction, the number freed, then both set
      const client = await scene.legacy.pool.connect();
      try {
        await client.query('BEGIN');
        const [x, y] = round % 2 === 0 ? ['VSWAP-Y', 'VSWAP-X'] : ['VSWAP-X', 'VSWAP-Y'];
        await client.query('UPDATE ADMISSION SET VISIT_NO = NULL WHERE ADM_ID = $1', [a.adm_id]);
        await client.query('UPDATE ADMISSION SET VISIT_NO = $2 WHERE ADM_ID = $1', [b.adm_id, y]);
        await client.query('UPDATE ADMISSION SET VISIT_NO = $2 WHERE ADM_ID = $1', [a.adm_id, x]);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      await scene.cdc.sync();
      await scene.drain();
      expect(await serviceVisits(ids), `round ${round}`).toEqual(await legacyVisits(ids));
    }

    // the stays' own later changes (a bed move) still apply
    await scene.legacy.pool.query("UPDATE ADMISSION SET BED_NO = 'S9' WHERE ADM_ID IN ($1, $2)", [a.adm_id, b.adm_id]);
    await scene.cdc.sync();
    await scene.drain();
    expect(await serviceVisits(ids)).toEqual(await legacyVisits(ids));
    expect((await serviceVisits(ids)).map((r) => r[2])).toEqual(['S9', 'S9']);
    expect(await conflicts()).toBe('0');
    expect((await deadLetters(scene.redis)).filter((d) => d.queue.includes('admissions'))).toEqual([]);
  });
});
