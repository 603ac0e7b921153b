/**
 * Acknowledgements for received messages: MSH, MSA and, for errors, ERR, written with the
 * received message's own delimiters and with every value escaped.
 */
import { DEFAULT_CHARSET, encodeMessageBytes, lookupCharset } from './charset.js';
import { newControlId } from './control-id.js';
import { DEFAULT_DELIMITERS, encodingCharacters } from './delimiters.js';
import type { Hl7Error } from './errors.js';
import { FieldWriter, trimEmpty } from './field-writer.js';
import { PROCESSING_IDS, VERSION, type HierarchicDesignator } from './header.js';
import type { AckSubject } from './message.js';

/** Original mode: application accept / error / reject. */
export type OriginalAckCode = 'AA' | 'AE' | 'AR';
/** Enhanced mode: commit accept / error / reject. */
export type EnhancedAckCode = 'CA' | 'CE' | 'CR';
export type AckCode = OriginalAckCode | EnhancedAckCode;

export interface BuildAckOptions {
  /**
   * Written as one ERR segment each (v2.5+), or as repetitions of ERR-1 (before v2.5, when their
   * messages go in MSA-3, joined by "; " and cut to its 80 characters).
   */
  readonly error?: Hl7Error | readonly Hl7Error[];
  /** Makes MSH-10 of the ACK; default `newControlId`. */
  readonly controlId?: () => string;
  /** MSH-7 of the ACK; default now. */
  readonly now?: Date;
  /** Our own MSH-3 / MSH-4, instead of the received MSH-5 / MSH-6. */
  readonly sendingApplication?: HierarchicDesignator;
  readonly sendingFacility?: HierarchicDesignator;
  /**
   * MSH-9 of an answer that is not a plain ACK (a query's ADR, RSP…): its message code and
   * structure; the trigger event is the received one's. Default ACK / ACK.
   */
  readonly answerType?: { readonly code: string; readonly structure: string };
}

export interface Hl7Ack {
  /** The ACK, segments ended by CR. */
  readonly text: string;
  /** Its MSH-10. */
  readonly controlId: string;
  /** The HL7 charset it is written in. */
  readonly charset: string;
  /** `text` encoded in `charset`, ready for `encodeFrame`. */
  readonly bytes: Buffer;
}

const FALLBACK_VERSION = '2.5';
/**
 * MSA-3 is ST of at most 80 characters in every version it is written in here (2.1 to 2.4):
 * strict receivers (older interface engines) reject an ACK with a longer field, or cut it
 * themselves. Whoever needs the whole reason has it where the caller keeps it.
 */
const MSA_TEXT_LENGTH = 80;
const EMPTY_HD: HierarchicDesignator = { namespaceId: '', universalId: '', universalIdType: '' };

/**
 * Builds the ACK for `received`, which is a decoded message or what a failed decode could read
 * (pass `result.received`; undefined when nothing is known). The sender and receiver are
 * swapped, MSA-2 is the received MSH-10, MSH-11, -12 and -18 are echoed, and MSH-9 is
 * `ACK^<trigger>^ACK` (`ACK^<trigger>` before v2.3.1, which has no message structure).
 *
 * An ACK must itself be a valid message, so a received value that is not is replaced rather
 * than echoed: processing id P, version 2.5, no MSH-18. The ACK is written in the charset its
 * MSH-18 names (else in the charset the message was read in); if an echoed value cannot be
 * written in it, the ACK is written in UTF-8 and says so in MSH-18.
 */
export function buildAck(received: AckSubject | undefined, code: AckCode, options: BuildAckOptions = {}): Hl7Ack {
  const h = received?.header ?? {};
  const controlId = (options.controlId ?? newControlId)();
  const echoed = h.characterSet && lookupCharset(h.characterSet).ok ? h.characterSet : '';
  const charset = echoed || received?.charset || DEFAULT_CHARSET;
  const fields = { ...options, controlId, now: options.now ?? new Date() };
  const text = ackText(received, code, fields, echoed);
  try {
    return { text, controlId, charset, bytes: encodeMessageBytes(text, charset) };
  } catch {
    const utf8 = ackText(received, code, fields, DEFAULT_CHARSET);
    return { text: utf8, controlId, charset: DEFAULT_CHARSET, bytes: encodeMessageBytes(utf8, DEFAULT_CHARSET) };
  }
}

function ackText(
  received: AckSubject | undefined,
  code: AckCode,
  options: Omit<BuildAckOptions, 'controlId' | 'now'> & { controlId: string; now: Date },
  characterSet: string,
): string {
  const d = received?.delimiters ?? DEFAULT_DELIMITERS;
  const h = received?.header ?? {};
  const version = h.version && VERSION.test(h.version) ? h.version : FALLBACK_VERSION;
  const processing = h.processingId && PROCESSING_IDS.has(h.processingId) ? [h.processingId, h.processingMode ?? ''] : ['P'];
  const w = new FieldWriter(d);

  const type = options.answerType ?? { code: 'ACK', structure: 'ACK' };
  const messageType = atLeast(version, [2, 3, 1]) ? [type.code, h.triggerEvent ?? '', type.structure] : [type.code, h.triggerEvent ?? ''];
  const msh = [
    'MSH',
    encodingCharacters(d),
    w.hd(options.sendingApplication ?? h.receivingApplication ?? EMPTY_HD),
    w.hd(options.sendingFacility ?? h.receivingFacility ?? EMPTY_HD),
    w.hd(h.sendingApplication ?? EMPTY_HD),
    w.hd(h.sendingFacility ?? EMPTY_HD),
    w.value(formatDateTime(options.now)),
    '',
    w.components(messageType),
    w.value(options.controlId),
    w.components(processing),
    w.value(version),
    '',
    '',
    '',
    '',
    '',
    w.value(characterSet),
  ];
  const errors: readonly Hl7Error[] = options.error === undefined ? [] : isErrorList(options.error) ? options.error : [options.error];
  const errSegments = atLeast(version, [2, 5]);
  // before v2.5, ERR-1 holds only a location and a code: the reason a person reads is MSA-3 (text message)
  const text = errSegments ? '' : errors.map((e) => e.message).join('; ');
  const msa = ['MSA', w.value(code), w.value(h.controlId ?? ''), ...(text === '' ? [] : [w.text(text, MSA_TEXT_LENGTH)])];
  const segments = [trimEmpty(msh).join(d.field), msa.join(d.field)];
  if (errors.length > 0) {
    if (errSegments) {
      for (const e of errors) segments.push(trimEmpty(['ERR', '', w.location(e.location), w.errorCode(e), e.severity ?? 'E', '', '', '', w.value(e.message)]).join(d.field));
    } else {
      segments.push(['ERR', errors.map((e) => w.legacyErrorLocation(e)).join(d.repetition)].join(d.field));
    }
  }
  return segments.map((s) => s + '\r').join('');
}

function isErrorList(e: Hl7Error | readonly Hl7Error[]): e is readonly Hl7Error[] {
  return Array.isArray(e);
}

/** Whether an HL7 version id (e.g. `2.5.1`) is at least `min`; unreadable versions count as 2.5. */
export function atLeast(version: string, min: readonly number[]): boolean {
  const parts = /^\d+(\.\d+)*$/.test(version) ? version.split('.').map(Number) : [2, 5];
  for (let i = 0; i < min.length; i++) {
    const a = parts[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/** DTM with seconds and the local UTC offset: YYYYMMDDHHMMSS+ZZZZ. */
export function formatDateTime(t: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const offset = -t.getTimezoneOffset();
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return (
    p(t.getFullYear(), 4) +
    p(t.getMonth() + 1) +
    p(t.getDate()) +
    p(t.getHours()) +
    p(t.getMinutes()) +
    p(t.getSeconds()) +
    sign +
    p(Math.floor(abs / 60)) +
    p(abs % 60)
  );
}
