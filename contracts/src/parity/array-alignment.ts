/**
 * Which items of two lists stand for each other (compare.ts). Paired by index, a list with one
 * stay missing at the top differed from the new service on every field of every stay after it,
 * and a page of a search shifted by one patient the service lacks differed on every field of
 * every row (a probe of the demo stack: a missing stay read as ten `/items/*` fields changed,
 * none missing). Aligned on the items that are equal, the missing item is the difference.
 *
 * The alignment is a longest common subsequence of the items, by value; the unmatched items
 * between two matched ones are paired in order (one item changed reads as its fields), the
 * longer side's surplus is removed or added. Where several alignments are as long, the choice
 * depends on the items, not on which side is legacy, so a difference reads the same both ways.
 */

import { ExactNumber, isJsonObject as isObject, RepeatedKey } from './exact-values.js';

export type ItemStep =
  /** an item of each side, compared field by field */
  | { kind: 'pair'; legacy: number; target: number }
  | { kind: 'removed'; legacy: number }
  | { kind: 'added'; target: number };

/** Past this many cells (legacy items × target items, equal ends set aside), items are paired by index. */
export const ALIGN_MAX_CELLS = 250_000;

/** A text equal for equal JSON values whatever their key order (objects are compared by key). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  // a number by its value (9007199254740993.0 is 9007199254740993); never the text of a plain value
  if (v instanceof ExactNumber) return `#${v.canonical}`;
  if (v instanceof RepeatedKey) return `#[${v.values.map(canonical).join(',')}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  }
  // an ignored item (a symbol) matches only another ignored one; JSON text never holds a raw NUL
  return typeof v === 'symbol' ? '\u0000' : (JSON.stringify(v) ?? '\u0001');
}

/** Unmatched runs between two matched items: paired in order, the longer side's surplus alone. */
function runs(steps: ItemStep[], a0: number, a1: number, b0: number, b1: number): void {
  const paired = Math.min(a1 - a0, b1 - b0);
  for (let k = 0; k < paired; k++) steps.push({ kind: 'pair', legacy: a0 + k, target: b0 + k });
  for (let i = a0 + paired; i < a1; i++) steps.push({ kind: 'removed', legacy: i });
  for (let j = b0 + paired; j < b1; j++) steps.push({ kind: 'added', target: j });
}

/**
 * The steps that turn `a[from..endA)` into `b[from..endB)`, matched (equal) items left out. The
 * caller has set aside the equal items at both ends; the items are normalized JSON values.
 */
export function alignItems(a: readonly unknown[], b: readonly unknown[], from: number, endA: number, endB: number): ItemStep[] {
  const steps: ItemStep[] = [];
  const n = endA - from;
  const m = endB - from;
  if (n === 0 || m === 0 || (n === 1 && m === 1) || n * m > ALIGN_MAX_CELLS) {
    // nothing to align, or too much: in order
    runs(steps, from, endA, from, endB);
    return steps;
  }
  const ka = a.slice(from, endA).map(canonical);
  const kb = b.slice(from, endB).map(canonical);
  // lcs[i * (m + 1) + j]: the longest common subsequence of ka[i..] and kb[j..]
  const width = m + 1;
  const lcs = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * width + j] = ka[i] === kb[j] ? lcs[(i + 1) * width + j + 1]! + 1 : Math.max(lcs[(i + 1) * width + j]!, lcs[i * width + j + 1]!);
    }
  }
  let i = 0;
  let j = 0;
  let runA = 0;
  let runB = 0;
  while (i < n && j < m) {
    if (ka[i] === kb[j]) {
      runs(steps, from + runA, from + i, from + runB, from + j);
      i++;
      j++;
      runA = i;
      runB = j;
      continue;
    }
    const skipA = lcs[(i + 1) * width + j]!;
    const skipB = lcs[i * width + j + 1]!;
    // as long either way: skip the item with the smaller text, whichever side it is on
    if (skipA > skipB || (skipA === skipB && ka[i]! < kb[j]!)) i++;
    else j++;
  }
  runs(steps, from + runA, endA, from + runB, endB);
  return steps;
}
