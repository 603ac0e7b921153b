/**
 * HL7 batches: [FHS] { [BHS] { MSH … } [BTS] } [FTS]. The envelope is split here, by segment
 * ids at line starts (any separator), and each message is decoded on its own bytes with
 * decodeMessage, so each keeps its own MSH-18. node-hl7-client's Batch and FileBatch find
 * messages by the literal text `MSH|` and so read a batch whose separator is not `|` as empty.
 */
import { EnvelopeReader, type BatchHeader, type BatchTrailer } from './batch-envelope.js';
import { decodeMessage, type DecodeOptions, type MessageDecodeResult } from './decode-message.js';
import { hl7Error, type Hl7Error } from './errors.js';
import { BOM_LENGTH, detectByteOrderMark, splitByteLines, withoutLeadingWhitespace, type ByteLine } from './frame-bytes.js';
import { frameCharset } from './frame-text.js';
import { segmentId } from './segments.js';

export type { BatchHeader, BatchTrailer } from './batch-envelope.js';

export interface Hl7BatchGroup {
  /** Absent for messages outside any BHS (a file without batches, or bare MSH … MSH). */
  readonly header?: BatchHeader;
  readonly trailer?: BatchTrailer;
  readonly messages: readonly MessageDecodeResult[];
}

export interface Hl7Batch {
  readonly fileHeader?: BatchHeader;
  readonly fileTrailer?: BatchTrailer;
  readonly batches: readonly Hl7BatchGroup[];
  /** Every message of every batch, in order, each decoded on its own (one may fail alone). */
  readonly messages: readonly MessageDecodeResult[];
  /**
   * The bytes each of `messages` was decoded from, as a frame of its own: its lines each ended
   * by CR, behind the batch's UTF-8 byte order mark if it has one (which outweighs MSH-18 for
   * each message). What a receiver keeps and passes on of a message it got alone.
   */
  readonly messageFrames: readonly Buffer[];
  /** Envelope problems that lose nothing (a count that does not match, a missing trailer). */
  readonly warnings: readonly string[];
}

export type BatchDecodeResult = { readonly ok: true; readonly batch: Hl7Batch } | { readonly ok: false; readonly error: Hl7Error };

interface CollectedGroup {
  header?: BatchHeader;
  trailer?: BatchTrailer;
  messages: ByteLine[][];
}

const CR = Buffer.from('\r');
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Whether the frame is a batch (starts with FHS or BHS), and so for decodeBatch. */
export function isBatch(frame: Uint8Array): boolean {
  const bom = detectByteOrderMark(frame);
  const trimmed = withoutLeadingWhitespace(frame);
  const bytes = bom === undefined ? trimmed : trimmed.subarray(BOM_LENGTH[bom]);
  const first = splitByteLines(bytes)[0];
  if (first === undefined) return false;
  const id = lineId(bytes, first);
  return id === 'FHS' || id === 'BHS';
}

export function decodeBatch(frame: Uint8Array, options: DecodeOptions = {}): BatchDecodeResult {
  const bom = detectByteOrderMark(frame);
  if (bom !== undefined && bom !== 'utf-8') {
    return { ok: false, error: hl7Error(103, `${bom.toUpperCase()} (byte order mark) cannot be carried in MLLP byte framing; send UNICODE UTF-8`) };
  }
  const trimmed = withoutLeadingWhitespace(frame);
  const bytes = bom === 'utf-8' ? trimmed.subarray(BOM_LENGTH[bom]) : trimmed;
  const lines = splitByteLines(bytes);
  // the envelope has no charset field: it is read in its first message's, by the rule of every frame
  const firstMsh = lines.find((l) => lineId(bytes, l) === 'MSH');
  const envelopeCharset = frameCharset(bytes, firstMsh, bom === 'utf-8', options);
  if (!envelopeCharset.ok) return envelopeCharset;
  const reader = new EnvelopeReader(bytes, envelopeCharset.charset);

  let fileHeader: BatchHeader | undefined;
  let fileTrailer: BatchTrailer | undefined;
  const groups: CollectedGroup[] = [];
  let openGroup: (CollectedGroup & { header: BatchHeader }) | undefined; // a BHS not yet closed by its BTS
  let current: ByteLine[] | undefined; // lines of the message being collected
  const seen = new Map<string, number>();

  for (const [index, line] of lines.entries()) {
    const id = lineId(bytes, line);
    const sequence = (seen.get(id) ?? 0) + 1;
    seen.set(id, sequence);
    const outOfPlace = (why: string): BatchDecodeResult => {
      const valid = segmentId(id) !== undefined;
      const error = valid ? hl7Error(100, `${id} ${why}`, { segment: id, sequence }) : hl7Error(100, `a line without a segment id ${why}`);
      return { ok: false, error };
    };
    if (fileTrailer) return outOfPlace('follows the FTS, which ends the file');
    switch (id) {
      case 'FHS': {
        if (index !== 0) return outOfPlace('must be the first segment of a file');
        const header = reader.header(line, 'FHS');
        if (!header.ok) return header;
        fileHeader = header.header;
        current = undefined;
        break;
      }
      case 'BHS': {
        if (openGroup) return outOfPlace('starts a batch before the BTS of the previous one');
        const header = reader.header(line, 'BHS');
        if (!header.ok) return header;
        openGroup = { header: header.header, messages: [] };
        groups.push(openGroup);
        current = undefined;
        break;
      }
      case 'BTS': {
        if (!openGroup) return outOfPlace('has no BHS to close');
        const trailer = reader.trailer(line, 'BTS', openGroup.header.delimiters);
        if (!trailer.ok) return trailer;
        openGroup.trailer = trailer.trailer;
        openGroup = undefined;
        current = undefined;
        break;
      }
      case 'FTS': {
        if (!fileHeader) return outOfPlace('has no FHS to close');
        if (openGroup) return outOfPlace('ends the file before the BTS of its last batch');
        const trailer = reader.trailer(line, 'FTS', fileHeader.delimiters);
        if (!trailer.ok) return trailer;
        fileTrailer = trailer.trailer;
        current = undefined;
        break;
      }
      case 'MSH': {
        // inside a BHS … BTS, or else in the group of messages that have no BHS
        let group: CollectedGroup | undefined = openGroup;
        if (!group) {
          const last = groups[groups.length - 1];
          group = last?.header === undefined && last !== undefined ? last : { messages: [] };
          if (group !== last) groups.push(group);
        }
        current = [line];
        group.messages.push(current);
        break;
      }
      default:
        if (!current) return outOfPlace('comes before the first MSH of its batch');
        current.push(line);
    }
  }

  const frameOf = (messageLines: ByteLine[]) => {
    const parts: Buffer[] = bom === 'utf-8' ? [UTF8_BOM] : [];
    for (const l of messageLines) parts.push(Buffer.from(bytes.buffer, bytes.byteOffset + l.start, l.end - l.start), CR);
    return Buffer.concat(parts);
  };
  const framed = groups.map((g) => g.messages.map(frameOf));
  const batches: Hl7BatchGroup[] = groups.map((g, i) => ({ header: g.header, trailer: g.trailer, messages: framed[i]!.map((f) => decodeMessage(f, options)) }));
  if (batches.length === 0 && fileHeader === undefined) {
    return { ok: false, error: hl7Error(100, 'the batch is empty: FHS, BHS or MSH expected', { segment: 'MSH', sequence: 1 }) };
  }
  return {
    ok: true,
    batch: {
      fileHeader,
      fileTrailer,
      batches,
      messages: batches.flatMap((b) => b.messages),
      messageFrames: framed.flat(),
      warnings: envelopeWarnings(fileHeader, fileTrailer, batches),
    },
  };
}

function envelopeWarnings(fileHeader: BatchHeader | undefined, fileTrailer: BatchTrailer | undefined, batches: readonly Hl7BatchGroup[]): string[] {
  const warnings: string[] = [];
  for (const [i, b] of batches.entries()) {
    if (b.header === undefined) continue;
    if (b.trailer === undefined) warnings.push(`batch ${i + 1} has no BTS`);
    else if (mismatch(b.trailer.count, b.messages.length)) {
      warnings.push(`BTS-1 of batch ${i + 1} counts ${b.trailer.count} messages, the batch holds ${b.messages.length}`);
    }
  }
  if (fileHeader && fileTrailer === undefined) warnings.push('the file has no FTS');
  const headed = batches.filter((b) => b.header !== undefined).length;
  if (fileTrailer && mismatch(fileTrailer.count, headed)) warnings.push(`FTS-1 counts ${fileTrailer.count} batches, the file holds ${headed}`);
  return warnings;
}

function mismatch(count: string, actual: number): boolean {
  return /^\d+$/.test(count.trim()) && Number(count.trim()) !== actual;
}

function lineId(bytes: Uint8Array, line: ByteLine): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + line.start, Math.min(3, line.end - line.start)).toString('latin1');
}
