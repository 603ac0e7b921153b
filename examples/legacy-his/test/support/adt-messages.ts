/**
 * ADT messages as the HL7 tests write them (the legacy inbound's and patient-service's alike), and
 * what the legacy inbound's ADT tests read of a harness (hl7-harness.ts) after sending them.
 */
import { expect } from 'vitest';
import type { EncounterList, LegacyPatient, ResultList } from '../../src/index.js';
import { getJson, sqlValue } from '../../../../test-support/legacy-his.js';
import type { Hl7Harness } from './hl7-harness.js';
import { hl7, msh, segment, uniqueControlId, type Ack, type MllpClient } from './mllp-client.js';

/** PID with PID-3 an MRN of GENHOSP */
export const pid = (mrn: string, fields: Record<number, string> = {}) => segment('PID', { 1: '1', 3: `${mrn}^^^GENHOSP^MR`, ...fields });
export const pv1 = (fields: Record<number, string>) => segment('PV1', { 1: '1', ...fields });
/** MRG with MRG-5, the prior visit number (A06/A07's renumbering) */
export const mrg = (priorVisit: string) => segment('MRG', { 5: priorVisit });

export interface AdtHeader {
  /** MSH-9.3, the message structure: ADT_<event> unless given (A47 is ADT_A30) */
  structure?: string;
  /** MSH-7 (msh()'s default unless given) */
  time?: string;
  /** EVN-2: MSH-7 unless given */
  recorded?: string;
  controlId?: string;
}

export function adtMessage(event: string, header: AdtHeader, ...segments: string[]): string {
  const { structure = `ADT_${event}`, time, recorded = time, controlId = uniqueControlId(event) } = header;
  return hl7(msh(`ADT^${event}^${structure}`, controlId, time === undefined ? {} : { time }), `EVN|${event}|${recorded ?? ''}`, ...segments);
}

/** the legacy inbound's tests: every message recorded at one time, MSH-7 msh()'s default */
export const LEGACY_RECORDED = '20240705120000';

/** what a legacy inbound test reads of the harness it started (`his`) and sends over its connection (`client`) */
export function legacyAdtReads(his: () => Hl7Harness, client: () => MllpClient) {
  const patient = (mrn: string) => getJson<LegacyPatient>(`${his().base}/api/patients/${mrn}`);
  const encounters = async (mrn: string) => (await getJson<EncounterList>(`${his().base}/api/encounters?mrn=${mrn}`)).body;
  const stays = async (mrn: string) => (await encounters(mrn)).items;
  const adt = (event: string, ...segments: string[]) => adtMessage(event, { recorded: LEGACY_RECORDED }, ...segments);
  return {
    adt,
    patient,
    encounters,
    stays,
    results: async (mrn: string) => (await getJson<ResultList>(`${his().base}/api/results?mrn=${mrn}`)).body,
    /** the stay of a visit number as the API shows it (the API does not show visit numbers) */
    async stayOf(mrn: string, visit: string) {
      const { rows } = await his().pool.query<{ adm_id: number }>('SELECT ADM_ID FROM ADMISSION WHERE VISIT_NO = $1', [visit]);
      return (await stays(mrn)).find((s) => s.admissionId === rows[0]?.adm_id);
    },
    visitsOf: async (mrn: string) => (await his().pool.query<{ visit_no: string }>('SELECT VISIT_NO FROM ADMISSION WHERE PAT_MRN = $1 ORDER BY VISIT_NO', [mrn])).rows.map((r) => r.visit_no),
    count: (sql: string, params: unknown[] = []) => sqlValue<number>(his().pool, `SELECT count(*)::int AS v FROM ${sql}`, params),
    send: (message: string) => client().request(message),
    /** ERR-8 (the user message) of the first ERR */
    errText: (ack: Ack) => ack.message.get('ERR-8'),
    async discharge(mrn: string, visit: string, at: string): Promise<void> {
      expect((await client().request(adt('A03', pid(mrn), pv1({ 19: visit, 36: '01', 45: at })))).code).toBe('AA');
    },
  };
}
