/**
 * HL7 character sets (MSH-18, table 0211) and the byte codecs behind them.
 *
 * Only charsets that can be both read and written are supported, because every message read
 * here is answered with an ACK in the same charset: UTF-8 and the single-byte ISO 8859 sets.
 * Node has no encoder for the CJK sets, and UTF-16/32 cannot travel in MLLP's byte framing.
 */

export const DEFAULT_CHARSET = 'UNICODE UTF-8';

export interface Charset {
  /** The HL7 name (table 0211) this codec stands for, e.g. `8859/1`. */
  readonly hl7Name: string;
  /** Throws a TypeError when the bytes are not valid in this charset. */
  decode(bytes: Uint8Array): string;
  /** Throws a RangeError when a character has no byte in this charset. */
  encode(text: string): Buffer;
}

export type CharsetLookup = { ok: true; charset: Charset } | { ok: false; reason: string };

const utf8: Charset = {
  hl7Name: 'UNICODE UTF-8',
  decode: (bytes) => new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes),
  encode: (text) => Buffer.from(text, 'utf8'),
};

// Buffer's latin1 is ISO 8859-1 exactly (byte n is U+00nn); TextDecoder's 'iso-8859-1' label
// is windows-1252 under the WHATWG Encoding standard, which maps 0x80-0x9F differently.
const latin1: Charset = {
  hl7Name: '8859/1',
  decode: (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'),
  encode: (text) => {
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) > 0xff) throw unencodable(text, i, '8859/1');
    }
    return Buffer.from(text, 'latin1');
  },
};

const singleByteCache = new Map<string, Charset>();

/** A WHATWG single-byte encoding: decoded by TextDecoder, encoded through the reverse table. */
function singleByte(hl7Name: string, label: string): Charset {
  const cached = singleByteCache.get(label);
  if (cached) return cached;
  const decoder = new TextDecoder(label, { fatal: true });
  let reverse: Map<number, number> | undefined;
  const charset: Charset = {
    hl7Name,
    decode: (bytes) => decoder.decode(bytes),
    encode: (text) => {
      reverse ??= reverseTable(label);
      const out = Buffer.allocUnsafe(text.length);
      for (let i = 0; i < text.length; i++) {
        const byte = reverse.get(text.charCodeAt(i));
        if (byte === undefined) throw unencodable(text, i, hl7Name);
        out[i] = byte;
      }
      return out;
    },
  };
  singleByteCache.set(label, charset);
  return charset;
}

function reverseTable(label: string): Map<number, number> {
  const decoder = new TextDecoder(label, { fatal: true });
  const table = new Map<number, number>();
  for (let byte = 0; byte < 256; byte++) {
    try {
      table.set(decoder.decode(Uint8Array.of(byte)).charCodeAt(0), byte);
    } catch {
      // a byte the charset leaves undefined (e.g. 0xA5 in 8859-3) has no character to encode
    }
  }
  return table;
}

function unencodable(text: string, index: number, hl7Name: string): RangeError {
  const code = text.codePointAt(index) ?? 0;
  return new RangeError(`U+${code.toString(16).toUpperCase().padStart(4, '0')} cannot be encoded in ${hl7Name}`);
}

const ISO_8859_PARTS = new Set(['2', '3', '4', '5', '6', '7', '8', '9', '15']);

const REFUSED: Record<string, string> = {
  'UNICODE UTF-16': 'UTF-16 cannot be carried in MLLP byte framing; send UNICODE UTF-8',
  'UNICODE UTF-32': 'UTF-32 cannot be carried in MLLP byte framing; send UNICODE UTF-8',
  'ISO IR14': 'ISO IR14 (JIS X 0201) is not supported; send UNICODE UTF-8',
  'ISO IR87': 'ISO IR87 (JIS X 0208) is not supported; send UNICODE UTF-8',
  'ISO IR159': 'ISO IR159 (JIS X 0212) is not supported; send UNICODE UTF-8',
  'GB 18030-2000': 'GB 18030-2000 is not supported; send UNICODE UTF-8',
  'KS X 1001': 'KS X 1001 is not supported; send UNICODE UTF-8',
  'CNS 11643-1992': 'CNS 11643-1992 is not supported; send UNICODE UTF-8',
  'BIG-5': 'BIG-5 is not supported; send UNICODE UTF-8',
};

/**
 * Finds the codec for an MSH-18 value. Case and surrounding spaces are ignored, and the common
 * non-table spellings `UTF-8` and `ISO-8859-n` are accepted, because senders write them and
 * their meaning is not in doubt.
 */
export function lookupCharset(name: string): CharsetLookup {
  const wanted = name.trim().toUpperCase().replace(/\s+/g, ' ');
  if (wanted === 'UNICODE UTF-8' || wanted === 'UTF-8' || wanted === 'UTF8') return { ok: true, charset: utf8 };
  // Table 0211's plain UNICODE predates the UTF names. Bytes that reached us as MLLP and begin
  // with a one-byte "MSH" are not UCS-2, and in practice senders mean UTF-8 by it.
  if (wanted === 'UNICODE') return { ok: true, charset: { ...utf8, hl7Name: 'UNICODE' } };
  // TextDecoder reads 'ascii' as windows-1252: bytes above 0x7F, which ASCII forbids, are then
  // read as the Latin-1 text their senders almost always meant instead of stopping the feed.
  if (wanted === 'ASCII') return { ok: true, charset: singleByte('ASCII', 'windows-1252') };
  const iso = /^(?:8859\/|ISO[-_ ]?8859[-_])(\d{1,2})$/.exec(wanted);
  if (iso) {
    const part = iso[1] as string;
    if (part === '1') return { ok: true, charset: latin1 };
    if (ISO_8859_PARTS.has(part)) return { ok: true, charset: singleByte(`8859/${part}`, `iso-8859-${part}`) };
  }
  const refused = REFUSED[wanted];
  if (refused !== undefined) return { ok: false, reason: refused };
  return { ok: false, reason: 'is not a character set of HL7 table 0211 that this receiver reads' };
}

/**
 * Encodes message text for the wire in an HL7 charset (default UTF-8): the inverse of decoding.
 * Throws a RangeError for an unsupported charset or a character the charset cannot hold.
 */
export function encodeMessageBytes(text: string, charset: string = DEFAULT_CHARSET): Buffer {
  const found = lookupCharset(charset === '' ? DEFAULT_CHARSET : charset);
  if (!found.ok) throw new RangeError(`character set ${JSON.stringify(charset)}: ${found.reason}`);
  return found.charset.encode(text);
}
