/**
 * Parsers for option and argument values. They throw commander's InvalidArgumentError, so a
 * bad value is a usage error (exit 2) caught before anything is sent.
 */
import { InvalidArgumentError } from 'commander';

export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`"${value}" is not a whole number`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`must be between ${min} and ${max}`);
    return n;
  };
}

export const version = integer(1);
export const baseVersion = integer(0);

/**
 * A canary percent, 0-100 in steps of 0.01 (the rule model's resolution), written as a plain
 * decimal ("20", "12.5", "20%"): Number() alone would take 0x10 as 16 and 1e1 as 10.
 */
export function percent(value: string): number {
  const digits = /^(\d+(?:\.\d+)?)%?$/.exec(value.trim())?.[1];
  const n = Number(digits);
  if (digits === undefined || n > 100) throw new InvalidArgumentError(`"${value}" is not a percent between 0 and 100 (a plain decimal number such as 20 or 12.5)`);
  if (Math.abs(Math.round(n * 100) - n * 100) > 1e-9) throw new InvalidArgumentError('a percent has at most two decimals');
  return n;
}

export function reason(value: string): string {
  const trimmed = value.trim();
  if (!trimmed) throw new InvalidArgumentError('say why: the reason is kept in the version history and the audit log');
  if (trimmed.length > 500) throw new InvalidArgumentError('at most 500 characters');
  return trimmed;
}

/** As the client sends it: methods are case-sensitive, and the gateway answers `get` with 400 (explain says so). */
export function method(value: string): string {
  if (!/^[A-Za-z-]+$/.test(value)) throw new InvalidArgumentError(`"${value}" is not an HTTP method`);
  return value;
}

export function requestPath(value: string): string {
  if (!value.startsWith('/')) throw new InvalidArgumentError(`"${value}" must start with "/" (the path and query as the client sends them)`);
  return value;
}

/** Repeatable `--header name:value`. */
export function header(value: string, previous: string[] = []): string[] {
  const colon = value.indexOf(':');
  if (colon <= 0) throw new InvalidArgumentError(`"${value}" is not name:value`);
  return [...previous, value];
}

const RELATIVE = /^(\d+)\s*(s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** An instant for --since/--until: ISO 8601 (a date alone is midnight UTC) or an age such as `2h`, `7d`. */
export function instant(value: string, now: () => number = Date.now): string {
  const rel = RELATIVE.exec(value.trim());
  if (rel) return new Date(now() - Number(rel[1]) * UNIT_MS[rel[2]!]!).toISOString();
  // the API wants a full date-time; Date.parse takes more than that, so insist on ISO first
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    const t = Date.parse(value.trim());
    if (!Number.isNaN(t)) return new Date(t).toISOString();
  }
  throw new InvalidArgumentError(`"${value}" is neither an ISO 8601 time (2026-11-25, 2026-11-25T08:00:00Z) nor an age (30m, 2h, 7d)`);
}

/** A token's end for --expires: an ISO 8601 time, or a lifetime from now such as `12h`, `30d`, `12w`. */
export function expiry(value: string, now: () => number = Date.now): string {
  const rel = RELATIVE.exec(value.trim());
  if (rel) {
    if (Number(rel[1]) === 0) throw new InvalidArgumentError('a lifetime of 0 would make a token that never works');
    return new Date(now() + Number(rel[1]) * UNIT_MS[rel[2]!]!).toISOString();
  }
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    const t = Date.parse(value.trim());
    if (!Number.isNaN(t)) return new Date(t).toISOString();
  }
  throw new InvalidArgumentError(`"${value}" is neither an ISO 8601 time (2027-01-31, 2027-01-31T18:00:00Z) nor a lifetime (12h, 30d, 12w)`);
}

/** A parity window as the admin API takes it: a whole number (1-999999) of minutes, hours or days. */
export function window(value: string): string {
  if (!/^[1-9][0-9]{0,5}[mhd]$/.test(value)) throw new InvalidArgumentError(`"${value}" is not a window: a whole number (1-999999) and m, h or d, as 15m, 2h, 24h, 7d`);
  return value;
}
