// MLLP framing
export { MllpDecoder, DEFAULT_MAX_FRAME_BYTES, type MllpDecoderOptions, type MllpEvent, type DiscardReason } from './mllp/decoder.js';
export { encodeFrame, START_BLOCK, END_BLOCK, CARRIAGE_RETURN } from './mllp/frame.js';

// HL7 v2 messages
export { decodeMessage, decodeMessageText, type DecodeOptions, type MessageDecodeResult } from './hl7/decode-message.js';
export { detectByteOrderMark, withoutLeadingWhitespace, type ByteOrderMark } from './hl7/frame-bytes.js';
export { Hl7Message, type AckSubject } from './hl7/message.js';
export type { MessageHeader, HierarchicDesignator, PatientIdentifier } from './hl7/header.js';
export { preferMrnAuthorities } from './hl7/header.js';
export type { FieldPath } from './hl7/field-path.js';
export { DEFAULT_DELIMITERS, encodingCharacters, type Hl7Delimiters } from './hl7/delimiters.js';
export { escapeValue } from './hl7/escape.js';
export { readableText } from './hl7/formatted-text.js';
export { HL7_ERROR_TEXT, hl7Error, formatLocation, type Hl7Error, type Hl7ErrorCode, type Hl7ErrorLocation, type Hl7ErrorSeverity } from './hl7/errors.js';
export { DEFAULT_CHARSET, encodeMessageBytes, lookupCharset, type Charset, type CharsetLookup } from './hl7/charset.js';

// HL7 v2 values as stored: text, dates and times, code tables
export {
  HL7_NULL,
  upperText,
  plainText,
  cutToWidth,
  parseDateTime,
  sexCode,
  maritalCode,
  admissionType,
  dispositionCode,
  zipCode,
  stateCode,
  observationAction,
  abnormalFlag,
  type Update,
  type ParsedDateTime,
  type AdmissionType,
  type ObservationAction,
  type AbnormalFlag,
} from './hl7/values.js';

// what messages mean to the hospital's records: demographics, stays, merges, results, refusals
export * from './interpret/index.js';

// batches
export { decodeBatch, isBatch, type BatchDecodeResult, type Hl7Batch, type Hl7BatchGroup, type BatchHeader, type BatchTrailer } from './hl7/batch.js';

// acknowledgements
export { buildAck, type AckCode, type OriginalAckCode, type EnhancedAckCode, type BuildAckOptions, type Hl7Ack } from './hl7/ack.js';
export { buildBatchAck, type BatchAckGroup, type BatchAckOptions } from './hl7/batch-ack.js';
export { decideAck, commitAckDue, type AckDecision, type AckOutcome } from './hl7/ack-policy.js';
export { newControlId } from './hl7/control-id.js';
export { readAck, type AckFields } from './hl7/ack-reader.js';

// queries: answered with data, synchronously
export { isQuery } from './hl7/query.js';
