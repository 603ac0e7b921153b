import { describe, expect, it } from 'vitest';
import { buildAck, buildBatchAck, decodeBatch, type Hl7Batch, type MessageDecodeResult } from '../src/index.js';
import { hl7 } from './support/samples.js';

const msh = (id: string, sep = '|', enc = '^~\\&') => ['MSH', enc, 'LAB', 'NORTH', 'ADT', 'SOUTH', '20240102', '', `ORU${enc[0]}R01`, id, 'P', '2.5'].join(sep);

function decoded(bytes: Uint8Array): Hl7Batch {
  const r = decodeBatch(bytes);
  if (!r.ok) throw new Error(`batch decode failed: ${r.error.code} ${r.error.message}`);
  return r.batch;
}

const ackOf = (m: MessageDecodeResult, code: 'AA' | 'AR' = 'AA') => buildAck(m.ok ? m.message : m.received, code, { controlId: () => 'ACK-' + (m.ok ? m.message.header.controlId : '?') }).bytes;

describe('buildBatchAck', () => {
  it('answers a file of two batches with a file of two batches: swapped, referenced, counted, and decodable', () => {
    const received = decoded(
      hl7(
        'FHS|^~\\&|LAB|NORTH|ADT|SOUTH|20240102||||F-7',
        'BHS|^~\\&|LAB|NORTH|ADT|SOUTH|20240102||||B-1',
        msh('M1'),
        'PID|1||111^^^H^MR',
        msh('M2'),
        'PID|1||222^^^H^MR',
        'BTS|2',
        'BHS|^~\\&|LAB|NORTH|ADT|SOUTH|20240102||||B-2',
        msh('M3'),
        'PID|1||333^^^H^MR',
        'BTS|1',
        'FTS|2',
      ),
    );
    let n = 0;
    const answer = buildBatchAck(
      received.fileHeader,
      received.batches.map((g) => ({ header: g.header, answers: g.messages.map((m) => ackOf(m)) })),
      { controlId: () => `OUT-${++n}`, now: new Date(2026, 11, 6, 10, 0, 0) },
    );
    const back = decoded(answer);
    expect(back.warnings).toEqual([]);
    expect(back.fileHeader).toMatchObject({
      segment: 'FHS',
      sendingApplication: { namespaceId: 'ADT' },
      sendingFacility: { namespaceId: 'SOUTH' },
      receivingApplication: { namespaceId: 'LAB' },
      receivingFacility: { namespaceId: 'NORTH' },
      controlId: 'OUT-1',
      referenceControlId: 'F-7',
    });
    expect(back.fileHeader?.dateTime).toMatch(/^20261206100000[+-]\d{4}$/);
    expect(back.batches.map((g) => [g.header?.controlId, g.header?.referenceControlId, g.trailer?.count])).toEqual([
      ['OUT-2', 'B-1', '2'],
      ['OUT-3', 'B-2', '1'],
    ]);
    expect(back.fileTrailer?.count).toBe('2');
    expect(back.messages.map((m) => (m.ok ? [m.message.header.messageType, m.message.get('MSA-1'), m.message.get('MSA-2')] : m.error.code))).toEqual([
      ['ACK', 'AA', 'M1'],
      ['ACK', 'AA', 'M2'],
      ['ACK', 'AA', 'M3'],
    ]);
  });

  it('writes a lone batch without a file header, in the sender\'s delimiters, and ends an answer that lacks its last CR', () => {
    const received = decoded(hl7('BHS#^~\\&#LAB#NORTH#ADT#SOUTH#20240102####B-9', msh('M1', '#'), 'PID#1##111^^^H^MR', 'BTS#1'));
    const query = Buffer.from('MSH#^~\\&#ADT#SOUTH#LAB#NORTH#20240102##ADR^A19#Q1#P#2.3\rMSA#AA#M1'); // as a legacy system may send it
    const answer = buildBatchAck(undefined, [{ header: received.batches[0]!.header, answers: [query, ackOf(received.messages[0]!, 'AR')] }]);
    expect(answer.toString('latin1').startsWith('BHS#^~\\&#ADT#SOUTH#LAB#NORTH#')).toBe(true);
    const back = decoded(answer);
    expect(back.fileHeader).toBeUndefined();
    expect(back.batches[0]?.header?.referenceControlId).toBe('B-9');
    expect(back.batches[0]?.trailer?.count).toBe('2');
    expect(back.messages.map((m) => (m.ok ? [m.message.header.messageType, m.message.get('MSA-1')] : m.error.code))).toEqual([
      ['ADR', 'AA'],
      ['ACK', 'AR'],
    ]);
  });

  it('writes the envelope in the batch\'s charset', () => {
    const answer = buildBatchAck(
      undefined,
      [{ header: decoded(Buffer.from('BHS|^~\\&|LAB|KLINIK MÜNSTER|ADT|SOUTH|20240102\rMSH|^~\\&|LAB|KLINIK MÜNSTER|ADT|SOUTH|20240102||ADT^A08|M1|P|2.5|||||DEU|8859/1\rBTS|1\r', 'latin1')).batches[0]!.header, answers: [] }],
      { charset: '8859/1' },
    );
    expect(answer.includes(Buffer.from('|KLINIK M\u00dcNSTER|', 'latin1'))).toBe(true);
    expect(answer.toString('latin1')).toMatch(/\rBTS\|0\r$/);
  });
});
