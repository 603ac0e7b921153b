/**
 * The request id as the gateway's logs show it.
 *
 * A client's own `x-request-id` is passed upstream and back unchanged: that is what it is for.
 * But an integration engine may build its ids from an MRN or an accession number
 * (`ORU-100001-0042`), and the logs carry no PHI. So an id is logged as it is only when it has
 * the shape of a generated identifier, which holds no data by construction:
 *
 * - a UUID of version 1, 4, 6 or 7 (time and randomness; not 3 or 5, which are hashes of a name
 *   that may be an MRN, nor 8, whose content is free),
 * - a ULID (26 characters of Crockford's base 32),
 * - a hex token of 16 to 64 digits in one case (trace and span ids, nginx's $request_id),
 *
 * and then only when at least one character in eight is a letter: a number of accession or
 * message-control style (`20240311000123456`) is a valid hex token, a random one is not all
 * digits (a random UUID fails this about once in 2,000, a random 16-digit hex id once in 175:
 * it is then hashed, nothing worse).
 * Base64 tokens are not taken: their alphabet spells words, names and dates
 * (`ADT-2024-03-11-SMITH`). The test is for ids built from data, not for one made to look random.
 *
 * Any other id is logged as `sha256:` and the first 12 hex digits of its SHA-256, the same on
 * every instance and after a restart: an operator who has the client's id finds its lines by
 * hashing it (`printf %s "$ID" | sha256sum | cut -c1-12`). A hash of a short id can be reversed
 * by trying every MRN; with a key set (keyRequestIdHashes), the hashes are HMACs under it
 * (`hmac:`), which no one without the key can test guesses against.
 */
import { createHash, createHmac } from 'node:crypto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1467][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const ULID = /^[0-7][0-9a-hjkmnp-tv-z]{25}$/i;
const HEX = /^(?:[0-9a-f]{16,64}|[0-9A-F]{16,64})$/;

let hashKey: Buffer | undefined;

/** Hashes of ids are HMAC-SHA-256 under `key` from now on (one key for every instance), or plain SHA-256 without one. */
export function keyRequestIdHashes(key: string | undefined): void {
  hashKey = key ? Buffer.from(key, 'utf8') : undefined;
}

/** fewer than one letter in eight characters (dashes aside) */
function mostlyDigits(id: string): boolean {
  let digits = 0;
  let letters = 0;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if (c !== 45) letters++;
  }
  return letters * 8 < digits + letters;
}

export function looksGenerated(id: string): boolean {
  return (UUID.test(id) || ULID.test(id) || HEX.test(id)) && !mostlyDigits(id);
}

/** What the logs show for request id `id` (one the gateway took or made: see acceptableRequestId). */
export function loggedRequestId(id: string): string {
  if (looksGenerated(id)) return id;
  const digest = hashKey ? createHmac('sha256', hashKey).update(id, 'utf8').digest('hex') : createHash('sha256').update(id, 'utf8').digest('hex');
  return `${hashKey ? 'hmac' : 'sha256'}:${digest.slice(0, 12)}`;
}
