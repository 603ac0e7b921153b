/**
 * HL7 v2 values as a receiving system stores them: text fields trimmed and cut to a width
 * (empty means "not sent", `""` means "clear it"), dates and times (DTM/TS), and the code
 * tables a registration and a laboratory feed use (sex, marital status, patient class,
 * discharge disposition, result status, abnormal flags). Shared by the stand-in legacy
 * system's HL7 inbound and the new services, so that both read a message to the same effect.
 * Nothing here does I/O; nothing quotes a value in an error (values may be PHI).
 */
/** HL7's explicit null: `""` in an update means "clear this value" */
export const HL7_NULL = '""';

/**
 * A value of an update: `undefined` when the field was empty (keep what is stored), `null`
 * when the sender wrote `""` (clear it), else the value to store.
 */
export type Update<T> = T | null | undefined;

/** trimmed, upper case, cut to the column's width; empty is undefined, `""` is null */
export function upperText(raw: string, width: number): Update<string> {
  const v = raw.trim();
  if (v === '') return undefined;
  if (v === HL7_NULL) return null;
  return cutToWidth(v.replace(/\s+/g, ' ').toUpperCase(), width).trimEnd();
}

/** trimmed and cut to the column's width, case kept; empty is undefined, `""` is null */
export function plainText(raw: string, width: number): Update<string> {
  const v = raw.trim();
  if (v === '') return undefined;
  if (v === HL7_NULL) return null;
  return cutToWidth(v, width).trimEnd();
}

/**
 * The first `width` characters, counted as a VARCHAR(n) counts them (code points): a character
 * outside the Basic Multilingual Plane (𠮷) is two UTF-16 units, and cutting between them would
 * store U+FFFD.
 */
export function cutToWidth(v: string, width: number): string {
  if (v.length <= width) return v;
  let i = 0;
  for (let n = 0; n < width && i < v.length; n++) i += v.codePointAt(i)! > 0xffff ? 2 : 1;
  return v.slice(0, i);
}

const DTM = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.\d{1,4})?([+-]\d{4})?$/;

export interface ParsedDateTime {
  /** YYYY-MM-DD */
  date: string;
  /**
   * `YYYY-MM-DD HH:MM:SS`, followed by `+HH:MM` when the sender gave its UTC offset: a time
   * without one is the sender's (the hospital's) wall-clock time and must be kept as it is; a
   * time with one is converted to local time by whoever stores it (PostgreSQL's `timestamptz`
   * cast in the database's time zone, for the legacy inbound and the services alike).
   */
  timestamp: string;
}

/**
 * An HL7 DTM/TS (`YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ]`; `YYYYMMDDHH` too) that names at least a
 * day. Fractions of a second are dropped (whole seconds are kept). Undefined when the
 * text is no such value or names an impossible date or time.
 */
export function parseDateTime(raw: string): ParsedDateTime | undefined {
  const m = DTM.exec(raw.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', offset] = m;
  if (mo === undefined || d === undefined) return undefined;
  const date = `${y}-${mo}-${d}`;
  if (!realDate(Number(y), Number(mo), Number(d))) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  let zone = '';
  if (offset !== undefined) {
    const oh = Number(offset.slice(1, 3));
    const om = Number(offset.slice(3, 5));
    if (oh > 14 || om > 59) return undefined;
    zone = `${offset.slice(0, 3)}:${offset.slice(3, 5)}`;
  }
  return { date, timestamp: `${date} ${h}:${mi}:${s}${zone}` };
}

function realDate(y: number, m: number, d: number): boolean {
  if (y < 1 || m < 1 || m > 12 || d < 1) return false;
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** PID-8 (table 0001) to SEX_CD: M, F; everything else (O, A, N, X, U…) is U */
export function sexCode(raw: string): Update<'M' | 'F' | 'U'> {
  const v = raw.trim().toUpperCase();
  if (v === '') return undefined;
  if (v === HL7_NULL) return 'U';
  return v === 'M' || v === 'F' ? v : 'U';
}

/**
 * PID-16 (table 0002) to MARITAL_CD (S M D W A U). E (legally separated) is A, B (unmarried)
 * is S; codes the legacy has no place for (C, G, P, R, N, I, O, T, local numbers) are U.
 */
export function maritalCode(raw: string): Update<'S' | 'M' | 'D' | 'W' | 'A' | 'U'> {
  const v = raw.trim().toUpperCase();
  if (v === '') return undefined;
  if (v === HL7_NULL) return null;
  switch (v) {
    case 'S':
    case 'M':
    case 'D':
    case 'W':
    case 'A':
    case 'U':
      return v;
    case 'E':
      return 'A';
    case 'B':
      return 'S';
    default:
      return 'U';
  }
}

export type AdmissionType = 'E' | 'I' | 'O' | 'D';

/**
 * PV1-2 patient class (table 0004), with PV1-4 admission type (table 0007), to ADM_TYPE_CD.
 * E is E; I, P (preadmit) and B (obstetrics) are I, or E when PV1-4 says emergency or accident;
 * O and R (recurring) are O; D (a local day-case class) is D. Anything else (N, U, C, nothing)
 * is undefined: the event decides (I for an admission, O for a registration, keep for an update).
 */
export function admissionType(patientClass: string, admitType: string): AdmissionType | undefined {
  const pc = patientClass.trim().toUpperCase();
  const at = admitType.trim().toUpperCase();
  switch (pc) {
    case 'E':
      return 'E';
    case 'I':
    case 'P':
    case 'B':
      return at === 'E' || at === 'A' ? 'E' : 'I';
    case 'O':
    case 'R':
      return 'O';
    case 'D':
      return 'D';
    default:
      return undefined;
  }
}

/** PV1-36 (table 0112, the UB-04 codes the legacy uses): one or two digits, as two */
export function dispositionCode(raw: string): string | undefined {
  const v = raw.trim();
  return /^\d{1,2}$/.test(v) ? v.padStart(2, '0') : undefined;
}

/** A ZIP code as the legacy prints it: nine digits become 12345-6789 */
export function zipCode(raw: string): Update<string> {
  const v = plainText(raw, 10);
  if (typeof v !== 'string') return v;
  return /^\d{9}$/.test(v) ? `${v.slice(0, 5)}-${v.slice(5)}` : v.toUpperCase();
}

/** STATE_CD is two letters; anything else is not stored (a name cut to two letters would be wrong) */
export function stateCode(raw: string): Update<string> {
  const v = upperText(raw, 30);
  if (typeof v !== 'string') return v;
  return /^[A-Z]{2}$/.test(v) ? v : undefined;
}

/**
 * OBX-11 (table 0085) to what the inbound does with the observation: store a result with a
 * status (F, P, C), make the result already sent final without sending it again (U), withdraw
 * the results of the order and test (D, W), or nothing (no result in this OBX).
 */
export type ObservationAction = { store: 'F' | 'P' | 'C' } | { finalize: true } | { delete: true } | { skip: true };

export function observationAction(raw: string): ObservationAction | undefined {
  switch (raw.trim().toUpperCase()) {
    case 'F': // final: changed only by a correction
      return { store: 'F' };
    case 'U': // "results status change to final without retransmitting results already sent as preliminary": OBX-5 is empty, the value stays
      return { finalize: true };
    case 'P':
    case 'R': // entered, not verified
    case 'S': // partial
      return { store: 'P' };
    case 'C': // a correction: replaces a final result
    case 'A': // amended (v2.8+)
      return { store: 'C' };
    case 'D': // delete the result
    case 'W': // wrong (e.g. wrong patient): withdrawn
      return { delete: true };
    case 'I': // specimen in lab, no result yet
    case 'O': // order detail, no result
    case 'N': // not asked
    case 'X': // cannot be obtained: no result (a result sent before is withdrawn by D or W, corrected by C)
      return { skip: true };
    default:
      return undefined;
  }
}

export type AbnormalFlag = 'H' | 'L' | 'HH' | 'LL' | 'A' | 'N';

/**
 * OBX-8 (table 0078) to ABN_FLAG: H L HH LL A as they are, AA is A, > and < (off scale) are HH
 * and LL. N is stored for text results only: the legacy leaves normal numeric results null.
 */
export function abnormalFlag(raw: string, numeric: boolean): AbnormalFlag | null {
  const v = raw.trim().toUpperCase();
  switch (v) {
    case 'H':
    case 'L':
    case 'HH':
    case 'LL':
    case 'A':
      return v;
    case 'AA':
      return 'A';
    case '>':
      return 'HH';
    case '<':
      return 'LL';
    case 'N':
      return numeric ? null : 'N';
    default:
      return null;
  }
}
