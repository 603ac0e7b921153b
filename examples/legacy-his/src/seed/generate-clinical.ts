/**
 * Admissions and laboratory results for one synthetic patient: historical stays in date
 * order, sometimes a stay still open (the census), and clinic blood draws outside any stay.
 * Identifiers (ADM_ID, RESULT_ID, ORDER_NO) are counted here, so they too are reproducible.
 */
import { drawResult, PANELS, type LabTest } from './lab-catalogue.js';
import { formatTimestamp, MINUTES_PER_DAY } from './legacy-time.js';
import type { GeneratedPatient } from './generate-patient.js';
import { WORLD_NOW } from './generate-patient.js';
import type { Prng } from './prng.js';
import type { AdmissionRow, LabResultRow } from './synthetic-rows.js';

const HOUR = 60;
const DAY = MINUTES_PER_DAY;
const DOCTORS = Array.from({ length: 40 }, (_, i) => `D${String(10_007 + i * 173)}`);
const INPATIENT_WARDS = ['MED1', 'MED2', 'SURG', 'ORTH', 'CARD', 'ICU'] as const;
const DISPOSITIONS: readonly (readonly [string, number])[] = [
  ['01', 80], // home
  ['06', 7], // home health
  ['03', 5], // skilled nursing facility
  ['02', 4], // transfer to another hospital
  ['07', 2], // left against medical advice
  ['20', 2], // expired
];

type AdmissionType = AdmissionRow['admTypeCd'];

export interface ClinicalHistory {
  admissions: AdmissionRow[];
  results: LabResultRow[];
  /** an admission ended with disposition 20 (expired) */
  expired: boolean;
}

export class ClinicalGenerator {
  private nextAdmId = 1;
  private nextResultId = 1;
  private nextOrderNo = 1;
  /** beds taken by open admissions, per ward, so the census never doubles up a bed */
  private readonly occupiedBeds = new Map<string, number>();

  constructor(private readonly rng: Prng) {}

  historyFor(patient: GeneratedPatient): ClinicalHistory {
    const rng = this.rng;
    const { row, registeredAt } = patient;
    const history: ClinicalHistory = { admissions: [], results: [], expired: false };

    const stays = rng.weighted([[0, 30], [1, 30], [2, 20], [3, 10], [4, 6], [5, 4]] as const);
    let start = registeredAt + rng.int(0, 400 * DAY);
    let lastEnd = registeredAt;
    for (let i = 0; i < stays && start < WORLD_NOW - 12 * DAY; i++) {
      const type = rng.weighted<AdmissionType>([['E', 35], ['I', 30], ['O', 25], ['D', 10]]);
      const end = Math.min(start + this.lengthOfStay(type), WORLD_NOW - 11 * DAY);
      const disposition = type === 'O' || type === 'D' ? '01' : rng.weighted(DISPOSITIONS);
      this.addStay(history, patient, type, start, end, disposition);
      lastEnd = end;
      if (disposition === '20') {
        history.expired = true;
        break;
      }
      start = end + rng.int(7 * DAY, 700 * DAY);
    }

    if (!history.expired && rng.chance(0.06)) {
      const openedAt = WORLD_NOW - rng.int(HOUR, 10 * DAY);
      if (openedAt > lastEnd) this.addStay(history, patient, rng.chance(0.7) ? 'I' : 'E', openedAt, null, null);
    }

    // clinic draws between visits, and never after a death
    const drawsUntil = history.expired ? lastEnd : WORLD_NOW - HOUR;
    const clinicDraws = rng.weighted([[0, 50], [1, 25], [2, 15], [3, 10]] as const);
    for (let i = 0; i < clinicDraws; i++) {
      this.addOrder(history, row.mrn, row.sex, null, rng.int(registeredAt, drawsUntil), WORLD_NOW - HOUR, false);
    }
    return history;
  }

  private lengthOfStay(type: AdmissionType): number {
    const rng = this.rng;
    switch (type) {
      case 'O':
        return rng.int(20, 4 * HOUR);
      case 'D':
        return rng.int(4 * HOUR, 10 * HOUR);
      case 'E':
        return rng.chance(0.6) ? rng.int(2 * HOUR, 12 * HOUR) : rng.int(1 * DAY, 6 * DAY);
      case 'I':
        return rng.int(1 * DAY, 14 * DAY);
    }
  }

  private addStay(history: ClinicalHistory, patient: GeneratedPatient, type: AdmissionType, start: number, end: number | null, disposition: string | null) {
    const rng = this.rng;
    const { row, ageYears } = patient;
    const wardCd = this.wardFor(type, ageYears, row.sex, end);
    const admission: AdmissionRow = {
      admId: this.nextAdmId++,
      mrn: row.mrn,
      admDt: formatTimestamp(start),
      dschDt: end === null ? null : formatTimestamp(end),
      wardCd,
      bedNo: end === null ? this.freeBed(wardCd) : this.anyBed(wardCd),
      admTypeCd: type,
      attendDrId: rng.pick(DOCTORS),
      dschDispCd: disposition,
      lastUpdDt: formatTimestamp(end ?? start),
    };
    history.admissions.push(admission);

    const until = end ?? WORLD_NOW - 30;
    const stayDays = (until - start) / DAY;
    const orders = type === 'O' ? rng.int(0, 1) : type === 'D' ? 1 : Math.min(6, 1 + Math.floor(stayDays / 2) + rng.int(0, 1));
    const sick = type === 'E' || wardCd === 'ICU' || wardCd === 'CARD';
    for (let i = 0; i < orders; i++) this.addOrder(history, row.mrn, row.sex, admission.admId, rng.int(start, until), WORLD_NOW - 30, sick);
  }

  private wardFor(type: AdmissionType, ageYears: number, sex: string, end: number | null): string {
    const rng = this.rng;
    if (type === 'O') return 'OPD';
    if (type === 'D') return 'DSU';
    // most emergency visits end in the department; the rest (and open ones) go up to a ward
    if (type === 'E' && end !== null && rng.chance(0.6)) return 'ED';
    if (ageYears < 16) return 'PEDS';
    if (sex === 'F' && ageYears >= 18 && ageYears <= 44 && rng.chance(0.3)) return 'MAT';
    return rng.pick(INPATIENT_WARDS);
  }

  private anyBed(wardCd: string): string | null {
    if (wardCd === 'OPD') return null;
    if (wardCd === 'ED' || wardCd === 'DSU') return `${wardCd === 'ED' ? 'ED' : 'DS'}${this.rng.int(1, 24)}`;
    return `${this.rng.int(1, 30)}${this.rng.pick(['A', 'B'])}`;
  }

  private freeBed(wardCd: string): string {
    const taken = this.occupiedBeds.get(wardCd) ?? 0;
    this.occupiedBeds.set(wardCd, taken + 1);
    return `${Math.floor(taken / 2) + 1}${taken % 2 === 0 ? 'A' : 'B'}`;
  }

  /** one order (a panel of tests collected together); results after 'now' stay preliminary */
  private addOrder(history: ClinicalHistory, mrn: string, sex: string, admId: number | null, collectedAt: number, now: number, sick: boolean) {
    const rng = this.rng;
    const panel: readonly LabTest[] = rng.weighted(PANELS);
    const year = formatTimestamp(collectedAt).slice(2, 4);
    const orderNo = `L${year}${String(this.nextOrderNo++).padStart(7, '0')}`;
    for (const test of panel) {
      const drawn = drawResult(rng, test, sex, sick);
      const turnaround = test.kind === 'text' ? test.turnaroundHours * HOUR : rng.int(30, 180);
      const finalAt = collectedAt + turnaround;
      let status: LabResultRow['statCd'] = 'F';
      let resultedAt = finalAt;
      let updatedAt = finalAt;
      let value = drawn.value;
      let flag = drawn.flag;
      if (finalAt > now) {
        status = 'P';
        resultedAt = Math.min(collectedAt + rng.int(30, 90), now);
        updatedAt = resultedAt;
        if (test.kind === 'text') {
          value = 'NO GROWTH TO DATE';
          flag = 'N';
        }
      } else if (rng.chance(0.03)) {
        // corrected after release: the correction is the newest update of the row
        status = 'C';
        updatedAt = Math.min(finalAt + rng.int(HOUR, 48 * HOUR), now);
      }
      history.results.push({
        resultId: this.nextResultId++,
        mrn,
        admId,
        orderNo,
        testCd: test.code,
        testNm: test.name,
        resultVal: value,
        units: drawn.units,
        refRange: drawn.refRange,
        abnFlag: flag,
        statCd: status,
        collectDt: formatTimestamp(collectedAt),
        resultDt: formatTimestamp(resultedAt),
        lastUpdDt: formatTimestamp(updatedAt),
      });
    }
  }
}
