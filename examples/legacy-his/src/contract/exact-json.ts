/**
 * JSON that keeps a BIGINT id exactly. A legacy BIGINT column may hold ids above 2^53 (an id
 * range given to a site, a conversion's offset), which a double rounds: 9007199254740993 went
 * out as 9007199254740992, another row's id. The contract keeps such an id as a JavaScript
 * bigint and writes its digits into the JSON text, a number as the old system wrote it (a
 * client that reads numbers exactly keeps it; parity compares numbers by their digits).
 */

/** A BIGINT id: a number while a double holds it exactly, a bigint beyond. */
export type LegacyId = number | bigint;

/** A BIGINT as a store reads it (node-postgres gives its digits as a string) to the contract's id. */
export function legacyId(value: number | string | bigint): LegacyId {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : BigInt(value);
}

/**
 * JSON.stringify's compact text, with a bigint written as its digits where JSON.stringify would
 * throw. Only what the contract's answers hold: plain objects, arrays, strings, numbers,
 * booleans, null (an undefined property is left out, as JSON.stringify does).
 */
export function exactJson(value: unknown): string {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : exactJson(v))).join(',')}]`;
  if (typeof value === 'object' && value !== null && !hasToJson(value)) {
    const members = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${members.map(([k, v]) => `${JSON.stringify(k)}:${exactJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const hasToJson = (value: object) => typeof (value as { toJSON?: unknown }).toJSON === 'function';
