/**
 * What the request line says beyond method and target: the HTTP version, and whether the line
 * alone was too long. Node's parser takes `HTTP/2.0` and `HTTP/0.9` (and a bare `GET /`, as
 * 0.9) and the gateway served them as HTTP/1.1; it refuses other versions (`HTTP/1.2`,
 * `HTTP/3.0`) with the same error as a malformed one (`HTTP/1.1x`). nginx answers 505 to a
 * major version other than 1, and 414 to a request line over its limit, where Node's parser
 * reports the head as too large either way (431).
 */
import { maxHeaderSize } from 'node:http';

export const VERSION_NOT_SUPPORTED_DETAIL = 'the gateway takes HTTP/1.1 and HTTP/1.0 requests only (RFC 9110 §15.6.6); the request line named another version';

export const URI_TOO_LONG_DETAIL = `the request target is longer than the gateway takes (${maxHeaderSize / 1024} KiB for the request line and headers)`;

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;

/** Where the line holding byte `at` starts: after the last line end before it in `bytes`, or at 0. */
function lineStart(bytes: Buffer, at: number): number {
  return at > 0 ? bytes.lastIndexOf(LF, at - 1) + 1 : 0;
}

/** The parser's methods: capitals, `-` (M-SEARCH) and `_`. */
const isMethodByte = (c: number): boolean => (c >= 0x41 && c <= 0x5a) || c === 0x2d || c === 0x5f;

/**
 * Whether a head refused as too large was refused for its request line alone, told from the
 * bytes of the parser's last read (`rawPacket`) up to where it stopped (`bytesParsed`): the
 * line being read there is a method, a space and a target that alone reaches the limit (Node
 * counts the target and the header names and values against it; the target's share counted
 * from the method on, so a line seen whole in this read). A request line that came over more
 * than one read starts in an earlier one, and cannot be told from a long header: it stays 431.
 * (So would a header value that, cut between two reads, starts the second one with a capital
 * word and a space and holds 16 KiB more: 414 in its place, no worse an answer.)
 */
export function requestLineOverLimit(bytes: Buffer | undefined, parsed: number | undefined, limit = maxHeaderSize): boolean {
  if (bytes === undefined || typeof parsed !== 'number') return false;
  const end = Math.min(parsed, bytes.length);
  const start = lineStart(bytes, end);
  let i = start;
  while (i < end && isMethodByte(bytes[i]!)) i++;
  if (i === start || i >= end || bytes[i] !== SP) return false;
  return end - (i + 1) >= limit;
}

/**
 * Whether a version the parser refused is a well-formed one it does not take (`HTTP/1.2`,
 * `HTTP/3.0`, `HTTP/11.1`: 505), not a malformed one (`HTTP/1.1x`, `HTTP/a.b`: 400). The
 * parser stops inside the version; the whole version has to be in the same read.
 */
export function namesOtherVersion(bytes: Buffer | undefined, parsed: number | undefined): boolean {
  if (bytes === undefined || typeof parsed !== 'number' || parsed <= 0 || parsed > bytes.length) return false;
  const start = bytes.lastIndexOf(SP, parsed - 1) + 1;
  if (start === 0 || start < lineStart(bytes, parsed)) return false;
  let end = parsed;
  while (end < bytes.length && bytes[end] !== CR && bytes[end] !== LF) end++;
  if (end === bytes.length) return false;
  return /^HTTP\/[0-9]+\.[0-9]+$/.test(bytes.toString('latin1', start, end));
}
