/**
 * A topic added to the mapping of a source that already streams (a newly extracted service's
 * table): the start adds its table to the publication, and before, only its changes from then on
 * reached the topic; the rows it already held never did (found probing: the twelve wards stayed
 * out of a wards topic added later, one streamed update their only event). Now the start reads the
 * new table at a consistent point of its own and publishes its rows as snapshot events with the
 * topic's snapshot end, ahead of the stream; a change the snapshot already holds comes later in
 * the queue with an earlier position, and a consumer skips it. A later start reads it no more.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { comparePositions, type ChangeEvent } from '@ficus/contracts';
import { SHIPPED_MAPPING, startScene, until, type MappingTopicYaml, type Scene } from './support/cdc-scene.js';
import { queuedBatches } from './support/queued-changes.js';

let s: Scene | undefined;
afterAll(async () => s?.close());

async function queued(scene: Scene, topic: string): Promise<{ events: ChangeEvent[]; ends: number }> {
  const batches = await queuedBatches(scene.redis, topic);
  return { events: batches.flatMap((b) => b.events), ends: batches.filter((b) => b.snapshotEnd).length };
}

const NO_WRITEBACK = { CDC_WRITEBACK_SERVICES: '' };

describe('a topic added to the mapping of a streaming source', () => {
  it('gets the rows its table already held, ahead of its changes, once', async () => {
    s = await startScene({ name: 'topic_added', seedPatients: 2, mapping: (topics) => topics.filter((t) => t.table !== 'WARD') });
    const wards = s.topic('wards');
    const first = await s.start(NO_WRITEBACK);
    // changed before the table is mapped: the snapshot brings it, no stream could
    await s.legacyPool.query("UPDATE WARD SET WARD_DESC = 'BEFORE THE MAPPING' WHERE WARD_CD = 'ICU'");
    await first.stop();

    const file = parse(readFileSync(s.mappingFile, 'utf8')) as { cdc: { topics: MappingTopicYaml[] } };
    const shipped = parse(readFileSync(SHIPPED_MAPPING, 'utf8')) as { cdc: { topics: MappingTopicYaml[] } };
    file.cdc.topics.push({ ...shipped.cdc.topics.find((t) => t.table === 'WARD')!, topic: wards });
    writeFileSync(s.mappingFile, stringify(file));
    const second = await s.start(NO_WRITEBACK);
    await s.legacyPool.query("UPDATE WARD SET WARD_DESC = 'AFTER THE MAPPING' WHERE WARD_CD = 'ICU'");
    const after = await until(async () => (await queued(s!, wards)).events.find((e) => e.op === 'update'), 'the update after the mapping');

    const { events, ends } = await queued(s, wards);
    const snapshot = events.filter((e) => e.op === 'snapshot');
    const legacyWards = (await s.legacyPool.query<{ n: string }>('SELECT count(*) AS n FROM WARD')).rows[0]!.n;
    expect(snapshot).toHaveLength(Number(legacyWards));
    expect(snapshot.find((e) => e.key.code === 'ICU')?.after?.description).toBe('BEFORE THE MAPPING');
    expect(ends).toBe(8); // the topic's snapshot end, on every partition
    expect(comparePositions(after.source.position, snapshot[0]!.source.position)).toBeGreaterThan(0);
    expect(second.output()).toMatch(/"tables":\["ward"\],"rows":\d+,"msg":"snapshot of the tables new to the mapping enqueued"/);
    await second.stop();

    const third = await s.start(NO_WRITEBACK);
    await third.stop();
    expect(third.output()).not.toMatch(/tables new to the mapping/);
    expect((await queued(s, wards)).events.filter((e) => e.op === 'snapshot')).toHaveLength(Number(legacyWards));
  }, 90_000);
});
