/**
 * The laboratory tests the synthetic hospital orders, with LOINC codes, units and reference
 * ranges as the old lab system printed them. Values are drawn around the normal range so that
 * most are normal, some abnormal and a few critical, and the flag always agrees with the value.
 */
import type { Prng } from './prng.js';

export interface NumericTest {
  kind: 'numeric';
  code: string;
  name: string;
  units: string;
  decimals: number;
  /** per sex where the range differs (F, else everyone) */
  low: number;
  high: number;
  lowF?: number;
  highF?: number;
  /** below/above these the flag is LL/HH (critical) */
  critLow?: number;
  critHigh?: number;
  /** printed range when it is not "low-high" */
  rangeText?: string;
}

export interface TextTest {
  kind: 'text';
  code: string;
  name: string;
  normal: string;
  abnormal: readonly string[];
  rangeText: string;
  /** hours from collection to the (final) result */
  turnaroundHours: number;
}

export type LabTest = NumericTest | TextTest;

const num = (t: Omit<NumericTest, 'kind'>): NumericTest => ({ kind: 'numeric', ...t });

export const TESTS = {
  sodium: num({ code: '2951-2', name: 'SODIUM', units: 'mmol/L', decimals: 0, low: 136, high: 145, critLow: 120, critHigh: 160 }),
  potassium: num({ code: '2823-3', name: 'POTASSIUM', units: 'mmol/L', decimals: 1, low: 3.5, high: 5.1, critLow: 2.8, critHigh: 6.2 }),
  chloride: num({ code: '2075-0', name: 'CHLORIDE', units: 'mmol/L', decimals: 0, low: 98, high: 107 }),
  glucose: num({ code: '2345-7', name: 'GLUCOSE', units: 'mg/dL', decimals: 0, low: 70, high: 99, critLow: 40, critHigh: 400 }),
  bun: num({ code: '3094-0', name: 'UREA NITROGEN (BUN)', units: 'mg/dL', decimals: 0, low: 7, high: 20 }),
  creatinine: num({ code: '2160-0', name: 'CREATININE', units: 'mg/dL', decimals: 2, low: 0.74, high: 1.35, lowF: 0.59, highF: 1.04 }),
  hemoglobin: num({ code: '718-7', name: 'HEMOGLOBIN', units: 'g/dL', decimals: 1, low: 13.5, high: 17.5, lowF: 12.0, highF: 15.5, critLow: 7.0, critHigh: 20.0 }),
  wbc: num({ code: '6690-2', name: 'WBC', units: '10*3/uL', decimals: 1, low: 4.5, high: 11.0, critLow: 2.0, critHigh: 30.0 }),
  platelets: num({ code: '777-3', name: 'PLATELET COUNT', units: '10*3/uL', decimals: 0, low: 150, high: 400, critLow: 50, critHigh: 1000 }),
  // printed as '<0.04', so 0.04 itself is already high
  troponin: num({ code: '10839-9', name: 'TROPONIN I', units: 'ng/mL', decimals: 2, low: 0, high: 0.039, rangeText: '<0.04' }),
  hba1c: num({ code: '4548-4', name: 'HEMOGLOBIN A1C', units: '%', decimals: 1, low: 4.0, high: 5.6 }),
  bloodCulture: {
    kind: 'text',
    code: '600-7',
    name: 'BLOOD CULTURE',
    normal: 'NO GROWTH AT 5 DAYS',
    abnormal: ['STAPHYLOCOCCUS AUREUS ISOLATED', 'ESCHERICHIA COLI ISOLATED', 'GRAM POSITIVE COCCI IN CLUSTERS'],
    rangeText: 'NO GROWTH',
    turnaroundHours: 120,
  },
  urineColor: {
    kind: 'text',
    code: '5778-6',
    name: 'COLOR OF URINE',
    normal: 'YELLOW',
    abnormal: ['DARK YELLOW', 'AMBER', 'RED'],
    rangeText: 'YELLOW',
    turnaroundHours: 2,
  },
} satisfies Record<string, LabTest>;

/** what gets ordered together: one ORDER_NO per panel */
export const PANELS: readonly (readonly [readonly LabTest[], number])[] = [
  [[TESTS.sodium, TESTS.potassium, TESTS.chloride, TESTS.glucose, TESTS.bun, TESTS.creatinine], 40], // basic metabolic panel
  [[TESTS.hemoglobin, TESTS.wbc, TESTS.platelets], 35], // complete blood count
  [[TESTS.potassium], 8],
  [[TESTS.troponin], 6],
  [[TESTS.glucose, TESTS.hba1c], 4],
  [[TESTS.bloodCulture], 4],
  [[TESTS.urineColor], 3],
];

export interface DrawnResult {
  value: string;
  units: string | null;
  refRange: string;
  flag: 'H' | 'L' | 'HH' | 'LL' | 'A' | 'N' | null;
}

export function drawResult(rng: Prng, test: LabTest, sex: string, sick: boolean): DrawnResult {
  if (test.kind === 'text') {
    const abnormal = rng.chance(sick ? 0.25 : 0.08);
    return { value: abnormal ? rng.pick(test.abnormal) : test.normal, units: null, refRange: test.rangeText, flag: abnormal ? 'A' : 'N' };
  }
  const low = sex === 'F' ? (test.lowF ?? test.low) : test.low;
  const high = sex === 'F' ? (test.highF ?? test.high) : test.high;
  const mid = (low + high) / 2;
  const halfWidth = (high - low) / 2;
  // sick patients spread further from the middle of the range, so they flag more often
  let raw = rng.normal(mid, halfWidth * (sick ? 1.1 : 0.6));
  if (test === TESTS.troponin) raw = rng.chance(sick ? 0.2 : 0.03) ? rng.next() * 3 : rng.next() * 0.03;
  const minimum = 10 ** -test.decimals;
  const value = Math.max(raw, test.decimals === 0 ? 1 : minimum);
  const text = value.toFixed(test.decimals);
  const shown = Number(text);
  return { value: text, units: test.units, refRange: test.rangeText ?? `${fmt(low, test.decimals)}-${fmt(high, test.decimals)}`, flag: flagFor(shown, low, high, test) };
}

function fmt(n: number, decimals: number): string {
  return n.toFixed(decimals);
}

/** the flag is computed from the value as printed, so a reader can always check it */
function flagFor(value: number, low: number, high: number, test: NumericTest): DrawnResult['flag'] {
  if (test.critLow !== undefined && value < test.critLow) return 'LL';
  if (test.critHigh !== undefined && value > test.critHigh) return 'HH';
  if (value < low) return 'L';
  if (value > high) return 'H';
  return null;
}
