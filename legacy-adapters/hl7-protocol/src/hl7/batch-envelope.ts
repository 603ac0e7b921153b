/**
 * The envelope segments of a batch: FHS/BHS (numbered like MSH: field 1 is the separator) and
 * BTS/FTS. node-hl7-client reads them only through its Batch and FileBatch, which fail for a
 * separator other than `|`, so each is read as the only segment after a stand-in MSH.
 */
import type { Charset } from './charset.js';
import { encodingCharacters, readDelimiters, type Hl7Delimiters } from './delimiters.js';
import { hl7Error, type Hl7Error } from './errors.js';
import { toValueAddress, type FieldPath } from './field-path.js';
import type { ByteLine } from './frame-bytes.js';
import { readHierarchicDesignator, type HierarchicDesignator } from './header.js';
import { LibraryMessageReader } from './library-reader.js';

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

/** Reads envelope segments from a batch's bytes, in the charset of the batch's first message. */
export class EnvelopeReader {
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
