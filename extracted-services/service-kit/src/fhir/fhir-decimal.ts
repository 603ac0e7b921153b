/**
 * FHIR decimals keep the precision they were written with: `4.0` is not `4`, and `1.00` mmol/L
 * says more than `1` (FHIR JSON: a decimal's text is significant). A JavaScript number cannot
 * carry that, so a decimal travels as FhirDecimal, holding the laboratory's own digits, and
 * fhirJson writes those digits as the JSON number.
 */
export class FhirDecimal {
  private constructor(readonly text: string) {}

  /** The decimal a printed number stands for (`-1`, `4.0`, `007.50` → 7.50), or undefined if it is none. */
  static parse(printed: string): FhirDecimal | undefined {
    const m = /^(-?)0*(\d+?)(\.\d+)?$/.exec(printed.trim());
    if (!m) return undefined;
    return new FhirDecimal(`${m[1]}${m[2]}${m[3] ?? ''}`);
  }

  /** for code that needs the value (comparisons, tests): the precision is in `text` */
  get value(): number {
    return Number(this.text);
  }

  // a stray JSON.stringify still gives valid JSON, if not the precision
  toJSON(): number {
    return this.value;
  }
}

// PostgreSQL text cannot hold NUL, so no stored value can look like this marker
const MARK = '\u0000fhir-decimal:';
const MARKED = /"\\u0000fhir-decimal:(-?\d+(?:\.\d+)?)"/g;

/** JSON of a FHIR resource, its FhirDecimals written with their own digits. */
export function fhirJson(body: unknown): string {
  const json = JSON.stringify(body, function (this: Record<string, unknown>, key, value: unknown) {
    const raw = this[key];
    return raw instanceof FhirDecimal ? MARK + raw.text : value;
  });
  return json.replace(MARKED, '$1');
}
