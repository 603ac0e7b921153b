import type { ValueAddress } from './library-reader.js';

/**
 * Where a value is. Every number is 1-based; occurrence, repetition, component and
 * subcomponent default to 1.
 */
export interface FieldPath {
  readonly segment: string;
  readonly occurrence?: number;
  readonly field: number;
  readonly repetition?: number;
  readonly component?: number;
  readonly subcomponent?: number;
}

const PATH = /^([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?-(\d+)(?:\((\d+)\))?(?:\.(\d+)(?:\.(\d+))?)?$/;

/**
 * Accepts a FieldPath or its text form `SEG[occurrence]-field(repetition).component.subcomponent`,
 * e.g. `PID-3`, `PID-3.4.2`, `PID-3(2).1`, `OBX[2]-5`. A malformed path is a programming error
 * and throws a RangeError.
 */
export function toValueAddress(path: FieldPath | string): ValueAddress {
  if (typeof path !== 'string') return checked(path, () => JSON.stringify(path));
  const m = PATH.exec(path);
  if (!m) throw new RangeError(`not a field path: ${JSON.stringify(path)} (expected e.g. PID-3, PID-3(2).4.1, OBX[2]-5)`);
  const n = (s: string | undefined) => (s === undefined ? undefined : Number(s));
  return checked(
    {
      segment: m[1] as string,
      occurrence: n(m[2]),
      field: Number(m[3]),
      repetition: n(m[4]),
      component: n(m[5]),
      subcomponent: n(m[6]),
    },
    () => JSON.stringify(path),
  );
}

const SEGMENT_ID = /^[A-Z][A-Z0-9]{2}$/;

function checked(p: FieldPath, shown: () => string): ValueAddress {
  const a: ValueAddress = {
    segment: p.segment,
    occurrence: p.occurrence ?? 1,
    field: p.field,
    repetition: p.repetition ?? 1,
    component: p.component ?? 1,
    subcomponent: p.subcomponent ?? 1,
  };
  const numbers = [a.occurrence, a.field, a.repetition, a.component, a.subcomponent];
  if (!SEGMENT_ID.test(a.segment) || !numbers.every((x) => Number.isSafeInteger(x) && x >= 1)) {
    throw new RangeError(`not a field path: ${shown()} (segment id and 1-based positions expected)`);
  }
  return a;
}
