/**
 * The canary percent of the flip dialog, checked by the page itself. The field is text, not a
 * number input: a number input reads an emptied field as "" and Number("") is 0, so a cleared
 * field flipped to canary 0 % (ending a shadow comparison unasked), and its own range check only
 * showed a browser bubble. What the operator typed is what is checked and what is sent. The
 * admin API takes 0 to 100 in steps of 0.01 (the rule schema's `multipleOf: 0.01`).
 * No imports: the unit test runs it under Node.
 */
export type PercentInput = { ok: true; value: number } | { ok: false; error: string };

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

export function parsePercent(text: string): PercentInput {
  const t = text.trim();
  if (t === '') return { ok: false, error: 'Enter the percent of patients for the new service, from 0 to 100.' };
  // exponents, commas and the like are not what a person means by a percent; Number() would take "1e1" and "0x10"
  if (!DECIMAL.test(t)) return { ok: false, error: `"${t}" is not a number: enter 0 to 100, with a point for decimals (12.5).` };
  const value = Number(t);
  if (value < 0 || value > 100) return { ok: false, error: `${t} is out of range: the percent goes from 0 to 100.` };
  const decimals = (t.split('.')[1] ?? '').replace(/0+$/, '').length;
  if (decimals > 2) return { ok: false, error: `${t} has more than two decimals: the admin API takes the percent in steps of 0.01.` };
  return { ok: true, value: Object.is(value, -0) ? 0 : value };
}
