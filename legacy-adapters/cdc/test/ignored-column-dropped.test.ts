/**
 * A column the mapping ignores, then dropped from the legacy table, does not stop the next start:
 * the source streams on past the drop, and the restarted deployable starts, warns in its log and
 * in GET /api/cdc/status with the mapping's file:line, so that the operator tidies the mapping.
 * Before, the restart refused ("table PATIENT_MASTER has no column EMAIL_ADDR"): an outage at the
 * next deploy for an entry that takes nothing from the topic. A mapped column missing is still
 * refused (mapping.test.ts).
 */
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { partitionQueueName, type ChangeBatch, type ChangeEvent } from '@ficus/contracts';
import { cdcQueuePrefix } from '@ficus/contracts/queues';
import { startScene, until, VIEWER_TOKEN, type Scene } from './support/cdc-scene.js';

let s: Scene | undefined;
afterAll(async () => {
  await s?.close();
});

async function streamed(topic: string): Promise<ChangeEvent[]> {
  const all: ChangeEvent[] = [];
  for (let p = 0; p < 8; p++) {
    const q = new Queue<ChangeBatch>(partitionQueueName(cdcQueuePrefix(topic), p), { connection: s!.redis });
    for (const j of await q.getJobs(['waiting'], 0, -1, true)) all.push(...j.data.events.filter((e) => e.op !== 'snapshot'));
    await q.close();
  }
  return all;
}

describe('an ignored column dropped from the legacy table', () => {
  it('streams on, and the next start goes on with a warning naming the mapping line', async () => {
    s = await startScene({
      name: 'ignored_dropped',
      seedPatients: 3,
      legacySql: 'ALTER TABLE PATIENT_MASTER ADD COLUMN EMAIL_ADDR VARCHAR(80)',
      mapping: (topics) => topics.map((t) => (t.table === 'PATIENT_MASTER' ? { ...t, ignore: [...(t.ignore ?? []), 'EMAIL_ADDR'] } : t)),
    });
    const topic = s.topic('patients');
    const first = await s.start({ CDC_WRITEBACK_SERVICES: '' });
    await s.legacyPool.query('ALTER TABLE PATIENT_MASTER DROP COLUMN EMAIL_ADDR');
    await s.legacyPool.query("UPDATE PATIENT_MASTER SET CITY_NM = 'AFTER THE DROP' WHERE PAT_MRN = (SELECT min(PAT_MRN) FROM PATIENT_MASTER)");
    await until(async () => (await streamed(topic)).some((e) => e.after?.city === 'AFTER THE DROP'), 'the update after the drop');
    await first.stop();

    const second = await s.start({ CDC_WRITEBACK_SERVICES: '' });
    const res = await fetch(`${second.url}/api/cdc/status`, { headers: { authorization: `Bearer ${VIEWER_TOKEN}` } });
    const status = (await res.json()) as { sources: { state: string }[]; warnings?: string[] };
    expect(status.sources[0]!.state).toBe('streaming');
    const warning = expect.stringMatching(/mapping\.yaml:\d+:\d+: .*table PATIENT_MASTER has no column EMAIL_ADDR: remove it from ignore$/);
    expect(status.warnings).toEqual([warning]);
    expect(second.output()).toMatch(/"level":"warn".*mapping\.yaml:\d+:\d+: .*table PATIENT_MASTER has no column EMAIL_ADDR/);

    // and it still streams
    await s.legacyPool.query("UPDATE PATIENT_MASTER SET CITY_NM = 'AFTER THE RESTART' WHERE PAT_MRN = (SELECT min(PAT_MRN) FROM PATIENT_MASTER)");
    await until(async () => (await streamed(topic)).some((e) => e.after?.city === 'AFTER THE RESTART'), 'the update after the restart');
    await second.stop();
  }, 90_000);
});
