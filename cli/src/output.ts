/**
 * The one place that writes to the terminal. stdout carries the command's result (a table,
 * or with --json exactly the API's JSON, so scripts can pipe it); stderr carries everything
 * else: notes, warnings and failures.
 */
import Table from 'cli-table3';
import type { CliFailure } from './failures.js';

/** Prints the result: JSON for scripts, or text lines for people. */
export function printResult(json: boolean, value: unknown, text: () => string | string[]): void {
  if (json) printJson(value);
  else printLines(text());
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function printLines(text: string | string[]): void {
  const lines = Array.isArray(text) ? text : [text];
  if (lines.length) process.stdout.write(lines.join('\n') + '\n');
}

/** A remark beside the result (it never mixes into stdout, which may be piped into a script). */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

export function printFailure(json: boolean, f: CliFailure): void {
  if (json) {
    process.stderr.write(JSON.stringify(f.toProblem()) + '\n');
    return;
  }
  process.stderr.write(`ficus: ${f.message}\n`);
  for (const d of f.details) process.stderr.write(`  ${d}\n`);
}

const MAX_CELL = 64;

function cell(value: unknown): string {
  if (value === undefined || value === null || value === '') return '-';
  const s = String(value).replace(/\s+/g, ' ');
  return s.length > MAX_CELL ? `${s.slice(0, MAX_CELL - 1)}…` : s;
}

/**
 * A plain table (no borders, no colours, columns two spaces apart), like kubectl's: readable
 * in a terminal and still easy to grep.
 */
export function table(head: string[], rows: unknown[][]): string {
  const t = new Table({
    head: head.map((h) => h.toUpperCase()),
    chars: {
      top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
      bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
      left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
  });
  for (const row of rows) t.push(row.map(cell));
  return t
    .toString()
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n');
}

/** `name: value` lines, the names aligned. */
export function fields(pairs: [string, unknown][]): string[] {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width + 2)}${v === undefined || v === null ? '-' : String(v)}`);
}
