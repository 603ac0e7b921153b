/**
 * HL7 control ids (MSH-10) in the adapter's logs, and finding a message again from a log line.
 *
 * Some interface engines build control ids from an MRN or a visit number, and the logs carry no
 * PHI: a control id is logged as loggedId (@ficus/contracts) shows it, `sha256:`/`hmac:` and 12
 * hex digits unless it is shaped like a generated id. HL7_LOG_CONTROL_IDS=plain logs them as
 * they are, for a site that knows its control ids carry no data.
 *
 * The rule is a serializer on the adapter's logger rather than a call at each log line: every
 * line that names a control id under these fields, now or added later, gets it.
 *
 * An operator holding a log line finds its message with the API's (and CLI's) control id
 * filter, which takes the logged form too: the store hashes its control ids as the log did.
 */
import { createHash } from 'node:crypto';
import { LOGGED_HASH, loggedIdSerializers, type Logger } from '@ficus/contracts';
import type { AdapterConfig } from '../config.js';

/** The log fields that hold a control id: MSH-10, and an ACK's MSA-2 (the id it answers). */
export const CONTROL_ID_FIELDS = ['controlId', 'ackedControlId'] as const;

/** The adapter's logger, writing control ids as HL7_LOG_CONTROL_IDS and FICUS_LOG_ID_KEY say. */
export function withLoggedControlIds(log: Logger, config: Pick<AdapterConfig, 'HL7_LOG_CONTROL_IDS' | 'FICUS_LOG_ID_KEY'>): Logger {
  const serializers = loggedIdSerializers(CONTROL_ID_FIELDS, { key: config.FICUS_LOG_ID_KEY, plain: config.HL7_LOG_CONTROL_IDS === 'plain' });
  return log.child({}, { serializers });
}

/**
 * The parameters of CONTROL_ID_MATCH for what an operator asks for: a control id, or one as the
 * logs show it (`sha256:…`, `hmac:…`). A string that is neither is taken as a control id.
 */
export type ControlIdMatch = { ok: true; params: [exact: string | null, hashHex: string | null, outerPad: Buffer | null, innerPad: Buffer | null] } | { ok: false; detail: string };

export function controlIdMatch(asked: string | undefined, key: string | undefined): ControlIdMatch {
  if (asked === undefined) return { ok: true, params: [null, null, null, null] };
  const hashed = LOGGED_HASH.exec(asked);
  if (!hashed) return { ok: true, params: [asked, null, null, null] };
  const [, kind, hex] = hashed;
  if (kind === 'sha256') return { ok: true, params: [asked, hex!, null, null] };
  if (!key) return { ok: false, detail: 'this adapter has no FICUS_LOG_ID_KEY, so its logs show control ids as sha256:, not hmac:' };
  const [outer, inner] = hmacPads(key);
  return { ok: true, params: [asked, hex!, outer, inner] };
}

/**
 * SQL: `column` matches the control id asked for, or (a hash asked for) hashes to it as the log
 * did. HMAC-SHA-256 is spelt out with the built-in sha256() (PostgreSQL 11), so no extension is
 * needed: H((K ^ opad) || H((K ^ ipad) || m)). `p` is the first of the four parameters.
 */
export function controlIdCondition(column: string, p: number): string {
  const bytes = `convert_to(${column}, 'UTF8')`;
  const digest = `CASE WHEN $${p + 2}::bytea IS NULL THEN sha256(${bytes}) ELSE sha256($${p + 2}::bytea || sha256($${p + 3}::bytea || ${bytes})) END`;
  return `($${p}::text IS NULL OR ${column} = $${p} OR ($${p + 1}::text IS NOT NULL AND left(encode(${digest}, 'hex'), 12) = $${p + 1}))`;
}

/** HMAC's two padded keys (RFC 2104, SHA-256's 64-byte block). */
function hmacPads(key: string): [outer: Buffer, inner: Buffer] {
  let k = Buffer.from(key, 'utf8');
  // a key longer than a block is hashed first, as createHmac does
  if (k.length > 64) k = createHash('sha256').update(k).digest();
  const block = Buffer.alloc(64);
  k.copy(block);
  return [Buffer.from(block.map((b) => b ^ 0x5c)), Buffer.from(block.map((b) => b ^ 0x36))];
}
