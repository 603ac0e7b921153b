/**
 * A column added to a captured table while the reader streams is never silently dropped: with
 * the policy "refuse" the source stops, says which column of which table, turns not ready and
 * counts it, and acknowledges nothing past it, so that after the mapping is fixed the change
 * arrives with the new column; with "carry" it is passed on, with "ignore" left out and counted.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { ChangeEvent } from '@ficus/contracts';
import { startScene, until, VIEWER_TOKEN, type MappingTopicYaml, type Scene } from './support/cdc-scene.js';
import { queuedEvents } from './support/queued-changes.js';

const scenes: Scene[] = [];
afterAll(async () => {
  for (const s of scenes) await s.close();
});

const streamed = async (s: Scene, topic: string): Promise<ChangeEvent[]> => (await queuedEvents(s.redis, topic)).filter((e) => e.op !== 'snapshot');

describe('a column added to a captured table', () => {
  it('is refused loudly under "refuse", and arrives once the mapping names it', async () => {
    const s = await startScene({ name: 'schema_refuse', seedPatients: 5 });
    scenes.push(s);
    const first = await s.start();
    await s.legacyPool.query('ALTER TABLE WARD ADD COLUMN WARD_PHONE VARCHAR(20)');
    await s.legacyPool.query("INSERT INTO WARD (WARD_CD, WARD_DESC, WARD_PHONE) VALUES ('NEO', 'NEONATAL UNIT', '555-0100')");

    const ready = await until(async () => {
      const r = await fetch(`${first.url}/readyz`);
      return r.status === 503 && ((await r.json()) as { sources: { state: string; error?: string }[] });
    }, 'readiness to turn false');
    expect(ready.sources[0]!.state).toBe('error');
    expect(ready.sources[0]!.error).toMatch(/table WARD has column ward_phone that the mapping of topic "wards-[0-9a-f]+" neither maps nor ignores/);
    const status = (await (await fetch(`${first.url}/api/cdc/status`, { headers: { authorization: `Bearer ${VIEWER_TOKEN}` } })).json()) as { sources: { state: string; error: string }[] };
    expect(status.sources[0]).toMatchObject({ state: 'error', error: expect.stringContaining('ward_phone') });
    const metrics = await (await fetch(`${first.url}/metrics`)).text();
    expect(metrics).toMatch(/ficus_cdc_schema_changes_total\{source="legacy-pg",table="WARD",outcome="refused"\} 1/);
    expect(first.output()).toMatch(/"level":"error".*ward_phone/);
    expect(await streamed(s, s.topic('wards'))).toEqual([]);
    await first.stop();

    // the mapping is fixed: the change was not acknowledged, so it comes now, with the column
    const file = parse(readFileSync(s.mappingFile, 'utf8')) as { cdc: { topics: MappingTopicYaml[] } };
    file.cdc.topics.find((t) => t.table === 'WARD')!.fields.phone = 'WARD_PHONE';
    writeFileSync(s.mappingFile, stringify(file));
    const second = await s.start();
    const events = await until(async () => {
      const e = await streamed(s, s.topic('wards'));
      return e.length > 0 && e;
    }, 'the ward insert');
    expect(events.map((e) => [e.op, e.after])).toEqual([['create', { code: 'NEO', description: 'NEONATAL UNIT', phone: '555-0100' }]]);
    await second.stop();
  });

  it('is carried under "carry" and left out, counted, under "ignore"', async () => {
    const s = await startScene({
      name: 'schema_policies',
      seedPatients: 5,
      mapping: (topics) => topics.map((t) => (t.table === 'WARD' ? { ...t, onNewColumn: 'carry' } : t.table === 'PATIENT_MERGE' ? { ...t, onNewColumn: 'ignore' } : t)),
    });
    scenes.push(s);
    const cdc = await s.start();
    await s.legacyPool.query('ALTER TABLE WARD ADD COLUMN WARD_PHONE VARCHAR(20); ALTER TABLE PATIENT_MERGE ADD COLUMN MERGE_NOTE TEXT');
    await s.legacyPool.query("INSERT INTO WARD (WARD_CD, WARD_DESC, WARD_PHONE) VALUES ('NEO', 'NEONATAL UNIT', '555-0100')");
    await s.legacyPool.query(
      "INSERT INTO PATIENT_MERGE (SURVIVOR_MRN, MERGED_MRN, ADM_CNT, RESULT_CNT, SEND_FACILITY, CONTROL_ID, MERGE_DT, MERGE_NOTE) VALUES ('100001', '100002', 0, 0, 'LAB', 'C1', TIMESTAMP '2024-07-01 09:00', 'duplicate registration')",
    );
    const ward = await until(async () => (await streamed(s, s.topic('wards')))[0], 'the ward');
    expect(ward.after).toEqual({ code: 'NEO', description: 'NEONATAL UNIT', ward_phone: '555-0100' });
    const merge = await until(async () => (await streamed(s, s.topic('patient-merges')))[0], 'the merge');
    expect(merge.after).toEqual({ mergeId: expect.any(Number), survivorMrn: '100001', mergedMrn: '100002', admissionCount: 0, resultCount: 0, sendingFacility: 'LAB', controlId: 'C1', mergedAt: '2024-07-01T09:00:00' });
    const metrics = await (await fetch(`${cdc.url}/metrics`)).text();
    expect(metrics).toMatch(/ficus_cdc_schema_changes_total\{source="legacy-pg",table="WARD",outcome="carry"\} 1/);
    expect(metrics).toMatch(/ficus_cdc_schema_changes_total\{source="legacy-pg",table="PATIENT_MERGE",outcome="ignore"\} 1/);
    expect((await fetch(`${cdc.url}/readyz`)).status).toBe(200);
    await cdc.stop();
  });
});
