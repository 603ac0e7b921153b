/**
 * A patient's stays and laboratory results as the legacy API shows them (README, "GET
 * /api/encounters" and "GET /api/results"): the JSON shapes in the contract's key order, each
 * made from a store's neutral record, so that every store serialises them alike. Ids are
 * LegacyIds: send them with exactJson (a BIGINT beyond 2^53 is a bigint).
 */
import { legacyId, type LegacyId } from './exact-json.js';

export type AdmissionTypeCode = 'E' | 'I' | 'O' | 'D';

export interface LegacyEncounter {
  admissionId: LegacyId;
  mrn: string;
  admitDate: string;
  /** a time, or `infinity` as a legacy row may hold it (a discharge all the same: the census counts only nulls) */
  dischargeDate: string | null;
  /** derived: ADMITTED while there is no discharge date */
  status: 'ADMITTED' | 'DISCHARGED';
  admissionType: AdmissionTypeCode;
  ward: { code: string; description: string };
  bed: string | null;
  attendingDoctorId: string | null;
  dischargeDisposition: string | null;
  lastUpdated: string;
}

/** A stay as a store reads it, under the contract's names; times local, YYYY-MM-DDTHH:MM:SS (sqlTimestamp). */
export interface EncounterRecord {
  /** a BIGINT id arrives as a string */
  admissionId: number | string;
  mrn: string;
  admitDate: string;
  dischargeDate: string | null;
  admissionType: AdmissionTypeCode;
  wardCode: string;
  wardDescription: string;
  bed: string | null;
  attendingDoctorId: string | null;
  /** two characters (a CHAR(2) column may pad a one-character code) */
  dischargeDisposition: string | null;
  lastUpdated: string;
}

export function encounterJson(r: EncounterRecord): LegacyEncounter {
  return {
    admissionId: legacyId(r.admissionId),
    mrn: r.mrn,
    admitDate: r.admitDate,
    dischargeDate: r.dischargeDate,
    status: r.dischargeDate === null ? 'ADMITTED' : 'DISCHARGED',
    admissionType: r.admissionType,
    ward: { code: r.wardCode, description: r.wardDescription },
    bed: r.bed,
    attendingDoctorId: r.attendingDoctorId,
    dischargeDisposition: r.dischargeDisposition === null ? null : r.dischargeDisposition.trim(),
    lastUpdated: r.lastUpdated,
  };
}

export type AbnormalFlagCode = 'H' | 'L' | 'HH' | 'LL' | 'A' | 'N';
export type ResultStatusCode = 'F' | 'P' | 'C';

/**
 * A laboratory result. `value` stays a string: numbers keep the precision the laboratory
 * printed ("0.70", not 0.7) and text results are words.
 */
export interface LegacyLabResult {
  resultId: LegacyId;
  mrn: string;
  admissionId: LegacyId | null;
  orderNumber: string;
  testCode: string;
  testName: string;
  value: string | null;
  units: string | null;
  referenceRange: string | null;
  abnormalFlag: AbnormalFlagCode | null;
  status: ResultStatusCode;
  collectedDate: string;
  resultDate: string | null;
  lastUpdated: string;
}

/** A result as a store reads it, under the contract's names (BIGINT ids may arrive as strings). */
export interface LabResultRecord extends Omit<LegacyLabResult, 'resultId' | 'admissionId'> {
  resultId: number | string;
  admissionId: number | string | null;
}

export function labResultJson(r: LabResultRecord): LegacyLabResult {
  return {
    resultId: legacyId(r.resultId),
    mrn: r.mrn,
    admissionId: r.admissionId === null ? null : legacyId(r.admissionId),
    orderNumber: r.orderNumber,
    testCode: r.testCode,
    testName: r.testName,
    value: r.value,
    units: r.units,
    referenceRange: r.referenceRange,
    abnormalFlag: r.abnormalFlag,
    status: r.status,
    collectedDate: r.collectedDate,
    resultDate: r.resultDate,
    lastUpdated: r.lastUpdated,
  };
}
