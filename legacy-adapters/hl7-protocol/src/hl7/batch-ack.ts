/**
 * The answer to a batch as a batch (HL7 v2 2.10.3): the answers to its messages (ACKs, a query's
 * answer) inside an envelope like the sender's, [FHS] { BHS answers… BTS } [FTS], for a sender
 * that reads one answer frame per batch frame it sends. Sender and receiver are swapped, each
 * header names the received one's control id (-11) as its reference (-12), and each trailer
 * counts what the answer holds: BTS-1 its messages, FTS-1 its batches.
 */
import type { BatchHeader } from './batch-envelope.js';
import { DEFAULT_CHARSET, encodeMessageBytes } from './charset.js';
import { newControlId } from './control-id.js';
import { DEFAULT_DELIMITERS, encodingCharacters, type Hl7Delimiters } from './delimiters.js';
import { formatDateTime } from './ack.js';
import { FieldWriter, trimEmpty } from './field-writer.js';

export interface BatchAckGroup {
  /** the received BHS; absent for messages that came outside any BHS */
  readonly header?: BatchHeader;
  /** the answers to its messages, each a whole message (segments ended by CR), in order */
  readonly answers: readonly Buffer[];
}

export interface BatchAckOptions {
  /** makes FHS-11 / BHS-11; default `newControlId` */
  readonly controlId?: () => string;
  /** FHS-7 / BHS-7; default now */
  readonly now?: Date;
  /** the charset the envelope is written in: the batch's own (its first message's MSH-18) */
  readonly charset?: string;
}

const CR = 0x0d;

export function buildBatchAck(fileHeader: BatchHeader | undefined, groups: readonly BatchAckGroup[], options: BatchAckOptions = {}): Buffer {
  const controlId = options.controlId ?? newControlId;
  const now = formatDateTime(options.now ?? new Date());
  const d = fileHeader?.delimiters ?? groups.find((g) => g.header)?.header?.delimiters ?? DEFAULT_DELIMITERS;
  const charset = options.charset ?? DEFAULT_CHARSET;
  const text = (s: string) => {
    try {
      return encodeMessageBytes(s + '\r', charset);
    } catch {
      return encodeMessageBytes(s + '\r', DEFAULT_CHARSET);
    }
  };
  const parts: Buffer[] = [];
  if (fileHeader) parts.push(text(envelopeHeader('FHS', fileHeader, d, now, controlId())));
  for (const g of groups) {
    parts.push(text(envelopeHeader('BHS', g.header, d, now, controlId())));
    for (const answer of g.answers) parts.push(answer[answer.length - 1] === CR ? answer : Buffer.concat([answer, Buffer.from([CR])]));
    parts.push(text(['BTS', String(g.answers.length)].join(d.field)));
  }
  if (fileHeader) parts.push(text(['FTS', String(groups.length)].join(d.field)));
  return Buffer.concat(parts);
}

function envelopeHeader(segment: 'FHS' | 'BHS', received: BatchHeader | undefined, d: Hl7Delimiters, now: string, controlId: string): string {
  const w = new FieldWriter(d);
  const empty = { namespaceId: '', universalId: '', universalIdType: '' };
  const fields = [
    segment,
    encodingCharacters(d),
    w.hd(received?.receivingApplication ?? empty),
    w.hd(received?.receivingFacility ?? empty),
    w.hd(received?.sendingApplication ?? empty),
    w.hd(received?.sendingFacility ?? empty),
    w.value(now),
    '',
    '',
    '',
    w.value(controlId),
    w.value(received?.controlId ?? ''),
  ];
  return trimEmpty(fields).join(d.field);
}
