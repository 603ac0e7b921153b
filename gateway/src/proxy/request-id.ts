/**
 * The request id as the gateway's logs show it.
 *
 * A client's own `x-request-id` is passed upstream and back unchanged: that is what it is for.
 * But an integration engine may build its ids from an MRN or an accession number
 * (`ORU-100001-0042`), and the logs carry no PHI. So an id is logged as it is only when it has
 * the shape of a generated identifier, else as `sha256:`/`hmac:` and 12 hex digits: the rule
 * (shared with the HL7 adapter's control ids) is in @ficus/contracts, logging/logged-id.ts.
 */
import { loggedId } from '@ficus/contracts';

export { looksGenerated } from '@ficus/contracts';

let hashKey: string | undefined;

/** Hashes of ids are HMAC-SHA-256 under `key` from now on (one key for every instance), or plain SHA-256 without one. */
export function keyRequestIdHashes(key: string | undefined): void {
  hashKey = key || undefined;
}

/** What the logs show for request id `id` (one the gateway took or made: see acceptableRequestId). */
export function loggedRequestId(id: string): string {
  return loggedId(id, hashKey);
}
