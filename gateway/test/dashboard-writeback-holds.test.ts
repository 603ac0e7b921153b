/**
 * The CDC panel's list of what holds the legacy writer back (dashboard/src/writeback-holds.ts),
 * the pure part: the same holds `ficus cdc status` prints, from GET /api/cdc/status. In a browser:
 * dashboard-panels.browser.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { writebackHolds } from '../dashboard/src/writeback-holds.js';

const now = Date.parse('2026-12-07T02:15:00.000Z');
const at = (iso: string) => `2026-12-07T${iso}.000Z`;

describe('what holds the write-back, as the CDC panel says it', () => {
  it('says each hold once, per service, and the emergency file last', () => {
    const holds = writebackHolds(
      {
        enabled: true,
        services: [
          { name: 'patient-service', waiting: { since: at('02:14:00'), lastError: 'connect ECONNREFUSED', partitions: [3], tries: 1 }, goneRows: [{ partition: 1, topics: ['patients', 'encounters'], rows: 2, since: at('02:13:00'), waitingFor: '0/1A', until: at('02:18:00') }] },
          {
            name: 'results-service',
            waiting: null,
            goneRows: [],
            parentWaits: [{ partition: 4, topics: ['lab-results'], rows: 3, foreignKeys: [{ table: 'lab_result', constraint: 'lab_result_pat_mrn_fkey', parentTable: 'patient_master' }], since: at('02:14:30'), until: at('02:15:30') }],
          },
        ],
        emergency: { file: '/f.yaml', rules: 'all', since: at('02:10:00'), services: [] },
      },
      now,
    );
    expect(holds.map((h) => [h.kind, h.service])).toEqual([
      ['database', 'patient-service'],
      ['gone-rows', 'patient-service'],
      ['parent-rows', 'results-service'],
      ['emergency', undefined],
    ]);
    expect(holds[0]!.text).toMatch(/^Write-back from patient-service waits for the legacy database since \d\d:\d\d:\d\d \(partition 3, 1 try; last: connect ECONNREFUSED\)/);
    expect(holds[1]!.text).toContain('2 update(s) of patients, encounters whose legacy row is gone');
    expect(holds[2]!.text).toMatch(
      /^Write-back from results-service held on partition 4 since \d\d:\d\d:\d\d: 3 row\(s\) of lab-results the legacy refuses until their parent row is there \(foreign key lab_result_pat_mrn_fkey of lab_result, wanting a row of patient_master\); from \d\d:\d\d:\d\d on, those still refused are dead-lettered\.$/,
    );
    expect(holds[3]!.text).toMatch(/^Emergency override file \/f\.yaml \(rules: all\) in force on the CDC since \d\d:\d\d:\d\d; it holds no write-back service's record\.$/);
  });

  it('says nothing while the write-back is off, unknown or held by nothing', () => {
    expect(writebackHolds(undefined)).toEqual([]);
    expect(writebackHolds({ enabled: false, services: [] })).toEqual([]);
    expect(writebackHolds({ enabled: true, services: [{ name: 'patient-service', waiting: null }], emergency: null })).toEqual([]);
  });
});
