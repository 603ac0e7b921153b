import { describe, expect, it } from 'vitest';
import { decodeBatch, decodeMessage, isBatch, type BatchDecodeResult, type Hl7Batch, type MessageDecodeResult } from '../src/index.js';
import { hl7 } from './support/samples.js';

const msh = (id: string, sep = '|', enc = '^~\\&') =>
  ['MSH', enc, 'LAB', 'NORTH', 'ADT', 'SOUTH', '20240102', '', `ORU${enc[0]}R01`, id, 'P', '2.5'].join(sep);

function ok(r: BatchDecodeResult): Hl7Batch {
  if (!r.ok) throw new Error(`batch decode failed: ${r.error.code} ${r.error.message}`);
  return r.batch;
}

function controlIds(messages: readonly MessageDecodeResult[]): string[] {
  return messages.map((m) => (m.ok ? m.message.header.controlId : `error ${m.error.code}`));
}

describe('decodeBatch', () => {
  it('splits a |-batch into its messages, with the batch header fields', () => {
    const bytes = hl7(
      'BHS|^~\\&|LAB^1.2^ISO|NORTH|ADT|SOUTH|20240102||NIGHTLY|a comment|B-1|B-0',
      msh('M1'),
      'PID|1||111^^^H^MR',
      'OBX|1|ST|X||MSH inside a value',
      msh('M2'),
      'PID|1||222^^^H^MR',
      'BTS|2|done',
    );
    expect(isBatch(bytes)).toBe(true);
    const b = ok(decodeBatch(bytes));
    expect(controlIds(b.messages)).toEqual(['M1', 'M2']);
    const [first, second] = b.messages;
    expect(first?.ok && first.message.patientId?.id).toBe('111');
    expect(first?.ok && first.message.get('OBX-5')).toBe('MSH inside a value');
    expect(second?.ok && second.message.patientId?.id).toBe('222');
    expect(b.batches).toHaveLength(1);
    expect(b.batches[0]?.header).toMatchObject({
      segment: 'BHS',
      sendingApplication: { namespaceId: 'LAB', universalId: '1.2', universalIdType: 'ISO' },
      sendingFacility: { namespaceId: 'NORTH' },
      dateTime: '20240102',
      name: 'NIGHTLY',
      comment: 'a comment',
      controlId: 'B-1',
      referenceControlId: 'B-0',
    });
    expect(b.batches[0]?.trailer).toEqual({ segment: 'BTS', count: '2', comment: 'done' });
    expect(b.warnings).toEqual([]);
  });

  it('splits a #-batch too (node-hl7-client reads it as empty)', () => {
    const bytes = hl7(
      'FHS#$%\\&#LAB#NORTH#ADT#SOUTH#20240102##FILE-7##F-1',
      'BHS#$%\\&#LAB$1.2$ISO#NORTH#ADT#SOUTH#20240102##NIGHTLY##B-1',
      msh('M1', '#', '$%\\&'),
      'PID#1##111$$$H$MR',
      msh('M2', '#', '$%\\&'),
      'NTE#1##a|b is data here',
      'BTS#2',
      'FTS#1#end of file',
    );
    expect(isBatch(bytes)).toBe(true);
    const b = ok(decodeBatch(bytes));
    expect(controlIds(b.messages)).toEqual(['M1', 'M2']);
    const [first, second] = b.messages;
    expect(first?.ok && first.message.patientId?.id).toBe('111');
    expect(second?.ok && second.message.get('NTE-3')).toBe('a|b is data here');
    expect(b.fileHeader).toMatchObject({ segment: 'FHS', name: 'FILE-7', controlId: 'F-1', sendingApplication: { namespaceId: 'LAB' } });
    expect(b.fileHeader?.delimiters.field).toBe('#');
    expect(b.batches[0]?.header).toMatchObject({ segment: 'BHS', controlId: 'B-1', sendingApplication: { universalId: '1.2' } });
    expect(b.batches[0]?.trailer).toEqual({ segment: 'BTS', count: '2', comment: '' });
    expect(b.fileTrailer).toEqual({ segment: 'FTS', count: '1', comment: 'end of file' });
    expect(b.warnings).toEqual([]);
  });

  it('a file of several batches keeps each message in its batch, in order', () => {
    const b = ok(decodeBatch(hl7('FHS|^~\\&', 'BHS|^~\\&', msh('A1'), msh('A2'), 'BTS|2', 'BHS|^~\\&', msh('B1'), 'BTS|1', 'FTS|2')));
    expect(b.batches.map((g) => controlIds(g.messages))).toEqual([['A1', 'A2'], ['B1']]);
    expect(controlIds(b.messages)).toEqual(['A1', 'A2', 'B1']);
  });

  it('messages without a BHS (bare MSH … MSH, or directly under FHS) form one group', () => {
    expect(controlIds(ok(decodeBatch(hl7(msh('X1'), 'PID|1', msh('X2')))).messages)).toEqual(['X1', 'X2']);
    const f = ok(decodeBatch(hl7('FHS|^~\\&', msh('Y1'), msh('Y2'), 'FTS|0')));
    expect(f.batches).toHaveLength(1);
    expect(f.batches[0]?.header).toBeUndefined();
    expect(controlIds(f.messages)).toEqual(['Y1', 'Y2']);
  });

  it('LF and CRLF line endings, and a byte order mark', () => {
    const lines = ['BHS|^~\\&', msh('L1'), msh('L2'), 'BTS|2'];
    for (const ending of ['\n', '\r\n']) {
      expect(controlIds(ok(decodeBatch(Buffer.from(lines.join(ending) + ending))).messages)).toEqual(['L1', 'L2']);
    }
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), hl7(...lines)]);
    expect(isBatch(withBom)).toBe(true);
    expect(controlIds(ok(decodeBatch(withBom)).messages)).toEqual(['L1', 'L2']);
  });

  it('line breaks, spaces and tabs before the batch header are skipped, as before a message', () => {
    const lines = ['BHS|^~\\&', msh('W1'), msh('W2'), 'BTS|2'];
    for (const lead of ['\r\n', '\n\n', ' \t']) {
      for (const ending of ['\r', '\n']) {
        const bytes = Buffer.from(lead + lines.join(ending) + ending);
        expect(isBatch(bytes), JSON.stringify([lead, ending])).toBe(true);
        expect(controlIds(ok(decodeBatch(bytes)).messages)).toEqual(['W1', 'W2']);
      }
    }
  });

  it('each message is decoded in its own MSH-18', () => {
    const bytes = Buffer.concat([
      hl7('BHS|^~\\&'),
      Buffer.from(`${msh('C1')}||||||8859/1\rNTE|1||caf\xE9\r`, 'latin1'),
      Buffer.from(`${msh('C2')}||||||UNICODE UTF-8\rNTE|1||café\r`, 'utf8'),
      hl7('BTS|2'),
    ]);
    const texts = ok(decodeBatch(bytes)).messages.map((m) => (m.ok ? [m.message.charset, m.message.get('NTE-3')] : m.error.message));
    expect(texts).toEqual([
      ['8859/1', 'café'],
      ['UNICODE UTF-8', 'café'],
    ]);
  });

  it("a Latin-1 batch reads as its messages sent alone: each message's frame, charset and text, and the envelope in its charset", () => {
    const alone = [`${msh('L1')}||||||8859/1\rPID|1||1^^^H^MR||M\xDCLLER^J\xD6RG\r`, `${msh('L2')}||||||8859/1\rNTE|1||Stra\xDFe\r`].map((m) => Buffer.from(m, 'latin1'));
    const bhs = Buffer.from('BHS|^~\\&|LAB|NORTH|ADT|SOUTH|20240102||NIGHTLY|Gr\xFC\xDFe|B-1\r', 'latin1');
    for (const mark of [Buffer.alloc(0), Buffer.from([0xef, 0xbb, 0xbf])]) {
      // behind a UTF-8 byte order mark the same text is UTF-8 bytes, whatever MSH-18 says
      const encode = (b: Buffer) => (mark.length === 0 ? b : Buffer.from(b.toString('latin1'), 'utf8'));
      const b = ok(decodeBatch(Buffer.concat([mark, encode(bhs), ...alone.map(encode), Buffer.from('BTS|2\r')])));
      expect(b.batches[0]?.header?.comment).toBe('Grüße');
      expect(b.messageFrames).toEqual(alone.map((m) => Buffer.concat([mark, encode(m)])));
      const single = b.messageFrames.map((f) => decodeMessage(f));
      expect(b.messages.map((m) => m.ok && [m.message.charset, m.message.text])).toEqual(single.map((m) => m.ok && [m.message.charset, m.message.text]));
      expect(b.messages.map((m) => m.ok && m.message.get('PID-5.1'))[0]).toBe('MÜLLER');
    }
  });

  it('a bad message fails alone; the others are still delivered', () => {
    const b = ok(decodeBatch(hl7('BHS|^~\\&', msh('G1'), 'MSH|^~\\&|A|B|C|D|2024||ORU^R01||P|2.5', msh('G3'), 'BTS|3')));
    expect(controlIds(b.messages)).toEqual(['G1', 'error 101', 'G3']);
  });

  it('warns, without failing, when a trailer count does not match or a trailer is missing', () => {
    expect(ok(decodeBatch(hl7('BHS|^~\\&', msh('W1'), 'BTS|3'))).warnings).toEqual(['BTS-1 of batch 1 counts 3 messages, the batch holds 1']);
    expect(ok(decodeBatch(hl7('FHS|^~\\&', 'BHS|^~\\&', msh('W1')))).warnings).toEqual(['batch 1 has no BTS', 'the file has no FTS']);
    expect(ok(decodeBatch(hl7('FHS|^~\\&', 'BHS|^~\\&', msh('W1'), 'BTS|1', 'FTS|2'))).warnings).toEqual(['FTS-1 counts 2 batches, the file holds 1']);
  });

  it.each([
    ['a segment before the first MSH', ['BHS|^~\\&', 'PID|1', msh('E1'), 'BTS|1'], { segment: 'PID', sequence: 1 }],
    ['a BTS without BHS', [msh('E1'), 'BTS|1'], { segment: 'BTS', sequence: 1 }],
    ['an FHS that is not first', ['BHS|^~\\&', 'FHS|^~\\&'], { segment: 'FHS', sequence: 1 }],
    ['a BHS inside an open batch', ['BHS|^~\\&', msh('E1'), 'BHS|^~\\&'], { segment: 'BHS', sequence: 2 }],
    ['an FTS without FHS', ['BHS|^~\\&', msh('E1'), 'BTS|1', 'FTS|1'], { segment: 'FTS', sequence: 1 }],
    ['an FTS before the BTS', ['FHS|^~\\&', 'BHS|^~\\&', msh('E1'), 'FTS|1'], { segment: 'FTS', sequence: 1 }],
    ['a segment after the FTS', ['FHS|^~\\&', msh('E1'), 'FTS|1', msh('E2')], { segment: 'MSH', sequence: 2 }],
  ])('%s is a segment sequence error (100) at its location', (_name, segments, location) => {
    const r = decodeBatch(hl7(...segments));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code: 100, location });
  });

  it('an empty batch, or a header with bad encoding characters, is refused', () => {
    expect(decodeBatch(Buffer.alloc(0))).toMatchObject({ ok: false, error: { code: 100 } });
    expect(decodeBatch(hl7('BHS|^~'))).toMatchObject({ ok: false, error: { code: 102, location: { segment: 'BHS', field: 2 } } });
  });

  it('isBatch is false for a single message and for garbage', () => {
    expect(isBatch(hl7(msh('S1')))).toBe(false);
    expect(isBatch(Buffer.from('hello'))).toBe(false);
    expect(isBatch(Buffer.alloc(0))).toBe(false);
  });
});
