/**
 * The decoder's key change: an update that changes the topic's key (PAT_MRN renamed, PAT_ID the
 * primary key) is a delete of the old key and a create of the new one, each naming the other,
 * and both are change events a consumer takes.
 */
import { describe, expect, it } from 'vitest';
import { changeEventProblem, type ChangeEvent } from '@ficus/contracts';
import type { TopicMapping } from '../mapping/mapping-file.js';
import { ChangeDecoder } from './change-decoder.js';
import type { PgOutputMessage } from './pgoutput.js';

const patients: TopicMapping = {
  topic: 'patients',
  table: 'PATIENT_MASTER',
  key: ['mrn'],
  fields: [
    ['mrn', 'PAT_MRN'],
    ['lastName', 'PAT_LAST_NM'],
  ],
  ignore: ['PAT_ID'],
  onNewColumn: 'refuse',
  writeBack: true,
  merge: undefined,
  index: 0,
};

function decode(...changes: PgOutputMessage[]): ChangeEvent[] {
  const out: ChangeEvent[] = [];
  const d = new ChangeDecoder({ source: 'legacy-pg', database: 'legacy_his', tables: new Map([['public.patient_master', patients]]), echo: 'tag', emit: (e) => out.push(e), committed: () => undefined });
  const columns = [
    { name: 'pat_id', typeOid: 23, key: false },
    { name: 'pat_mrn', typeOid: 25, key: false },
    { name: 'pat_last_nm', typeOid: 25, key: false },
  ];
  d.handle({ tag: 'relation', relation: { oid: 1, schema: 'public', name: 'patient_master', replicaIdentity: 'f', columns } });
  d.handle({ tag: 'begin', finalLsn: 0x1000n, commitTime: 0n, xid: 7 });
  for (const c of changes) d.handle(c);
  d.handle({ tag: 'commit', commitLsn: 0x1000n, endLsn: 0x1010n, commitTime: 0n });
  return out;
}

describe('a change of the key', () => {
  it('is a delete naming the new key and a create naming the old one, in that order', () => {
    const events = decode({ tag: 'update', relationOid: 1, before: ['1', '100301', 'DOE'], beforeIsKeyOnly: false, after: ['1', '900301', 'DOE'] });
    expect(events.map((e) => [e.op, e.key, e.movedTo, e.movedFrom])).toEqual([
      ['delete', { mrn: '100301' }, { mrn: '900301' }, undefined],
      ['create', { mrn: '900301' }, undefined, { mrn: '100301' }],
    ]);
    expect(events.map((e) => changeEventProblem(e))).toEqual([undefined, undefined]);
    expect(events[0]!.source.position < events[1]!.source.position).toBe(true);
  });

  it('is not said of other changes', () => {
    const events = decode(
      { tag: 'update', relationOid: 1, before: ['2', '100302', 'DOE'], beforeIsKeyOnly: false, after: ['2', '100302', 'ROE'] },
      { tag: 'delete', relationOid: 1, before: ['2', '100302', 'ROE'], beforeIsKeyOnly: false },
      { tag: 'insert', relationOid: 1, after: ['3', '100303', 'POE'] },
    );
    expect(events.map((e) => e.op)).toEqual(['update', 'delete', 'create']);
    expect(events.every((e) => !('movedTo' in e) && !('movedFrom' in e))).toBe(true);
  });
});
