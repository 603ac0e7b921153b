/**
 * HL7 batches: [FHS] { [BHS] { MSH … } [BTS] } [FTS]. The envelope is split here, by segment
 * ids at line starts, and each message is decoded on its own bytes with decodeMessage (so
 * each keeps its own MSH-18). node-hl7-client's Batch and FileBatch find messages by the
 * literal text `MSH|` and so read a batch whose field separator is not `|` as empty.
 */
import { DEFAULT_CHARSET, lookupCharset, type Charset } from './charset.js';
import { readDelimiters, encodingCharacters, type Hl7Delimiters } from './delimiters.js';
import { decodeMessage, type DecodeOptions, type MessageDecodeResult } from './decode-message.js';
import { hl7Error, type Hl7Error } from './errors.js';
import { toValueAddress, type FieldPath } from './field-path.js';
import { BOM_LENGTH, detectByteOrderMark, sniffDeclaredCharset, splitByteLines, type ByteLine } from './frame-bytes.js';
import { readHierarchicDesignator, type HierarchicDesignator } from './header.js';
import { LibraryMessageReader } from './library-reader.js';
import { segmentId } from './segments.js';

/** FHS or BHS: the same fields, numbered like MSH's. */
export interface BatchHeader {
  readonly segment: 'FHS' | 'BHS';
  readonly delimiters: Hl7Delimiters;
  readonly sendingApplication: HierarchicDesignator; // -3
  readonly sendingFacility: HierarchicDesignator; // -4
  readonly receivingApplication: HierarchicDesignator; // -5
  readonly receivingFacility: HierarchicDesignator; // -6
  readonly dateTime: string; // -7
  readonly security: string; // -8
  readonly name: string; // -9: file/batch name, id or type
  readonly comment: string; // -10
  readonly controlId: string; // -11
  readonly referenceControlId: string; // -12
}

/** BTS or FTS. */
export interface BatchTrailer {
  readonly segment: 'BTS' | 'FTS';
  /** BTS-1 message count / FTS-1 batch count, as written. */
  readonly count: string;
  readonly comment: string; // -2
}

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
  const bytes = bom === undefined ? frame : frame.subarray(BOM_LENGTH[bom]);
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
  const bytes = bom === 'utf-8' ? frame.subarray(BOM_LENGTH[bom]) : frame;
  const lines = splitByteLines(bytes);
  const envelopeCharset = charsetOfFirstMessage(bytes, lines, bom === 'utf-8', options);
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
        let group = openGroup ?? groups[groups.length - 1];
        if (group === undefined || group.header !== undefined) {
          group = { messages: [] };
          groups.push(group);
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

  const decodeOne = (messageLines: ByteLine[]) => {
    const parts: Buffer[] = bom === 'utf-8' ? [UTF8_BOM] : [];
    for (const l of messageLines) parts.push(Buffer.from(bytes.buffer, bytes.byteOffset + l.start, l.end - l.start), CR);
    return decodeMessage(Buffer.concat(parts), options);
  };
  const batches: Hl7BatchGroup[] = groups.map((g) => ({ header: g.header, trailer: g.trailer, messages: g.messages.map(decodeOne) }));
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

/** Envelope segments are read in the charset of the first message (its MSH-18, or the default). */
function charsetOfFirstMessage(
  bytes: Uint8Array,
  lines: readonly ByteLine[],
  hasUtf8Bom: boolean,
  options: DecodeOptions,
): { ok: true; charset: Charset } | { ok: false; error: Hl7Error } {
  const firstMsh = lines.find((l) => lineId(bytes, l) === 'MSH');
  const declared = hasUtf8Bom ? DEFAULT_CHARSET : firstMsh ? sniffDeclaredCharset(bytes, firstMsh) : '';
  const found = lookupCharset(declared === '' ? (options.defaultCharset ?? DEFAULT_CHARSET) : declared);
  if (found.ok) return found;
  return { ok: false, error: hl7Error(103, `MSH-18 (character set) ${JSON.stringify(declared)} ${found.reason}`, { segment: 'MSH', sequence: 1, field: 18 }) };
}

/** Reads FHS/BHS and BTS/FTS through the library, as the only segment after a stand-in MSH. */
class EnvelopeReader {
  constructor(
    private readonly bytes: Uint8Array,
    private readonly charset: Charset,
  ) {}

  header(line: ByteLine, id: 'FHS' | 'BHS'): { ok: true; header: BatchHeader } | { ok: false; error: Hl7Error } {
    const text = this.text(line, id);
    if (!text.ok) return text;
    const delimiters = readDelimiters(text.text);
    if (!delimiters.ok) return delimiters;
    const read = this.reader(text.text, delimiters.delimiters, id);
    if (!read.ok) return read;
    const v = read.value;
    return {
      ok: true,
      header: {
        segment: id,
        delimiters: delimiters.delimiters,
        sendingApplication: readHierarchicDesignator(v, id, 3),
        sendingFacility: readHierarchicDesignator(v, id, 4),
        receivingApplication: readHierarchicDesignator(v, id, 5),
        receivingFacility: readHierarchicDesignator(v, id, 6),
        dateTime: v({ segment: id, field: 7 }),
        security: v({ segment: id, field: 8 }),
        name: v({ segment: id, field: 9 }),
        comment: v({ segment: id, field: 10 }),
        controlId: v({ segment: id, field: 11 }),
        referenceControlId: v({ segment: id, field: 12 }),
      },
    };
  }

  /** A trailer has no separators of its own: it is read with those of its header. */
  trailer(line: ByteLine, id: 'BTS' | 'FTS', d: Hl7Delimiters): { ok: true; trailer: BatchTrailer } | { ok: false; error: Hl7Error } {
    const text = this.text(line, id);
    if (!text.ok) return text;
    const read = this.reader(text.text, d, id);
    if (!read.ok) return read;
    return { ok: true, trailer: { segment: id, count: read.value({ segment: id, field: 1 }), comment: read.value({ segment: id, field: 2 }) } };
  }

  private text(line: ByteLine, id: string): { ok: true; text: string } | { ok: false; error: Hl7Error } {
    try {
      return { ok: true, text: this.charset.decode(this.bytes.subarray(line.start, line.end)) };
    } catch {
      return { ok: false, error: hl7Error(102, `${id} is not valid ${this.charset.hl7Name}`, { segment: id, sequence: 1 }) };
    }
  }

  private reader(
    segment: string,
    d: Hl7Delimiters,
    id: string,
  ): { ok: true; value: (p: FieldPath) => string } | { ok: false; error: Hl7Error } {
    try {
      const r = new LibraryMessageReader([`MSH${d.field}${encodingCharacters(d)}`, segment], d);
      return { ok: true, value: (p) => r.value(toValueAddress(p)) };
    } catch {
      return { ok: false, error: hl7Error(207, `the HL7 parser could not read ${id}`, { segment: id, sequence: 1 }) };
    }
  }
}
