/** Rows of the legacy tables as the seed produces them (timestamps 'YYYY-MM-DD HH:MM:SS'). */
export interface PatientRow {
  patId: number;
  mrn: string;
  lastName: string;
  firstName: string;
  middleName: string | null;
  dob: string;
  sex: 'M' | 'F' | 'U';
  addrLine1: string | null;
  city: string | null;
  state: string | null;
  zip: string | null;
  phone: string | null;
  marital: string | null;
  active: 'Y' | 'N';
  createDt: string;
  lastUpdDt: string;
  lastUpdUser: string;
}

export interface AdmissionRow {
  admId: number;
  mrn: string;
  admDt: string;
  dschDt: string | null;
  wardCd: string;
  bedNo: string | null;
  admTypeCd: 'E' | 'I' | 'O' | 'D';
  attendDrId: string;
  dschDispCd: string | null;
  lastUpdDt: string;
}

export interface LabResultRow {
  resultId: number;
  mrn: string;
  admId: number | null;
  orderNo: string;
  testCd: string;
  testNm: string;
  resultVal: string;
  units: string | null;
  refRange: string;
  abnFlag: string | null;
  statCd: 'F' | 'P' | 'C';
  collectDt: string;
  resultDt: string;
  lastUpdDt: string;
}

/** one slice of the synthetic hospital: some patients with all their admissions and results */
export interface SeedBatch {
  patients: PatientRow[];
  admissions: AdmissionRow[];
  results: LabResultRow[];
}
