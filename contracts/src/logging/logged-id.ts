/**
 * An identifier someone else made, as the logs show it: a client's `x-request-id` at the
 * gateway, an HL7 message control id (MSH-10) at the HL7 adapter and the services.
 *
 * Integration engines build such ids from data (`ORU-100001-0042`, an MRN and a counter; a
 * visit number and a date), and the logs carry no PHI. So an id is logged as it is only when it
 * has the shape of a generated identifier, which holds no data by construction:
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
 * every instance and after a restart: an operator who has the id finds its lines by hashing it
 * (`printf %s "$ID" | sha256sum | cut -c1-12`). A hash of a short id can be reversed by trying
 * every MRN; with a key (FICUS_LOG_ID_KEY, the same on every component), the hashes are HMACs
 * under it (`hmac:`), which no one without the key can test guesses against.
 */
import { createHash, createHmac } from 'node:crypto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1467][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const ULID = /^[0-7][0-9a-hjkmnp-tv-z]{25}$/i;
const HEX = /^(?:[0-9a-f]{16,64}|[0-9A-F]{16,64})$/;

/** hex digits of the digest a logged hash keeps */
export const LOGGED_HASH_DIGITS = 12;

/** A hashed id as the logs show it: `sha256:` or `hmac:` and 12 hex digits. */
export const LOGGED_HASH = /^(sha256|hmac):([0-9a-f]{12})$/;

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

/** Whether `id` has the shape of a generated identifier (above), which the logs may show as it is. */
export function looksGenerated(id: string): boolean {
  return (UUID.test(id) || ULID.test(id) || HEX.test(id)) && !mostlyDigits(id);
}

/** `sha256:<12 hex>` of `id`, or `hmac:<12 hex>` of its HMAC-SHA-256 under `key` when there is one. */
export function hashedId(id: string, key?: string): string {
  const digest = key ? createHmac('sha256', key).update(id, 'utf8').digest('hex') : createHash('sha256').update(id, 'utf8').digest('hex');
  return `${key ? 'hmac' : 'sha256'}:${digest.slice(0, LOGGED_HASH_DIGITS)}`;
}

/** What the logs show for `id`: the id itself when it looks generated, else its hash (under `key` when set). */
export function loggedId(id: string, key?: string): string {
  return looksGenerated(id) ? id : hashedId(id, key);
}

export interface LoggedIdSettings {
  /** FICUS_LOG_ID_KEY: hashes are HMACs under it */
  key?: string;
  /** log ids as they are, whatever their shape (a site that knows its ids carry no data) */
  plain?: boolean;
}

/**
 * pino serializers that log the fields named `fields` (HL7 control ids, say) as loggedId shows
 * them: given to a logger (`log.child({}, { serializers })`), they hold for every line it and
 * its children write, including lines added later by someone who forgot the rule.
 */
export function loggedIdSerializers(fields: readonly string[], settings: LoggedIdSettings): Record<string, (value: unknown) => unknown> {
  const show = (value: unknown) => (typeof value !== 'string' || settings.plain || value === '' ? value : loggedId(value, settings.key));
  return Object.fromEntries(fields.map((f) => [f, show]));
}
