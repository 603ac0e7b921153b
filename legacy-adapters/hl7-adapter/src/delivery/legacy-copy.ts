/**
 * The bytes a legacy inbound gets for a message the adapter took: a stored message the lanes
 * deliver (lane-senders.ts) and a query passed through while its sender waits (query-relay.ts).
 * One function for both, so a query is read as a message is: a UTF-8 byte order mark in front
 * of MSH (which the intake keeps, as it names the charset) hid the header from the edits below,
 * and a query went to legacy with the mark and with the sender's MSH-15/MSH-16.
 */
import { decodeMessage, detectByteOrderMark, encodeMessageBytes } from '@ficus/hl7-protocol';
import { declaringUtf8, endingInCr } from './header-edit.js';
import { askingOriginalMode } from './original-mode.js';

/** The message as legacy gets it: its text with CR segment ends (the last one's too), in its own charset, no BOM, asking for original-mode ACKs. */
export function legacyCopy(raw: Buffer): Buffer {
  // the usual case, already so: send the bytes as they are. Only when they start with MSH:
  // a byte order mark must go, and so must the CRs before MSH that were stored before the intake
  // dropped them (the header edit would find no MSH behind them either)
  if (startsWithMsh(raw) && !raw.includes(0x0a)) return askingOriginalMode(endingInCr(raw));
  const decoded = decodeMessage(raw);
  if (!decoded.ok) return askingOriginalMode(raw);
  const bytes = encodeMessageBytes(decoded.message.text, decoded.message.charset);
  // a byte order mark outweighed MSH-18 here; legacy, which gets no mark, must be told in MSH-18
  return askingOriginalMode(detectByteOrderMark(raw) === 'utf-8' ? declaringUtf8(bytes) : bytes);
}

const MSH = Buffer.from('MSH', 'latin1');

function startsWithMsh(raw: Buffer): boolean {
  return raw.subarray(0, 3).equals(MSH);
}
