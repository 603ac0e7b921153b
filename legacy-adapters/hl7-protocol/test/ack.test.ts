import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildAck,
  commitAckDue,
  decideAck,
  decodeMessage,
  encodeMessageBytes,
  escapeValue,
  hl7Error,
  newControlId,
  type AckOutcome,
  type Hl7Delimiters,
  type Hl7Message,
} from '../src/index.js';
import { hl7 } from './support/samples.js';

const NASTY = 'SMITH|JONES^A&B~C\\D';
const NOW = new Date(2024, 0, 2, 3, 4, 5);
const fixed = { now: NOW, controlId: () => 'ACK00000000000000001' };

function decoded(bytes: Buffer): Hl7Message {
  const r = decodeMessage(bytes);
  if (!r.ok) throw new Error(`decode failed: ${r.error.code} ${r.error.message}`);
  return r.message;
}

function localOffset(t: Date): string {
  const o = -t.getTimezoneOffset();
  return `${o < 0 ? '-' : '+'}${String(Math.floor(Math.abs(o) / 60)).padStart(2, '0')}${String(Math.abs(o) % 60).padStart(2, '0')}`;
}

const received = decoded(hl7('MSH|^~\\&|LAB|NORTH^1.2.3^ISO|ADT|SOUTH|20240102||ORU^R01^ORU_R01|CTRL-1|P|2.5.1', 'PID|1||42^^^H^MR'));

describe('buildAck', () => {
  it('writes MSH with sender and receiver swapped, MSH-9 ACK^<trigger>^ACK, MSA with the received MSH-10', () => {
    const ack = buildAck(received, 'AA', fixed);
    expect(ack.text).toBe(
      `MSH|^~\\&|ADT|SOUTH|LAB|NORTH^1.2.3^ISO|20240102030405${localOffset(NOW)}||ACK^R01^ACK|ACK00000000000000001|P|2.5.1\r` + 'MSA|AA|CTRL-1\r',
    );
    expect(ack.controlId).toBe('ACK00000000000000001');
    expect(ack.charset).toBe('UNICODE UTF-8');
  });

  it("writes a query's answer type in MSH-9 when asked: code^trigger^structure, the structure left out before v2.3.1", () => {
    const query = decoded(hl7('MSH|^~\\&|WARD|H|HIS|H|20240102||QRY^A19|Q-1|P|2.5', 'QRD|20240102|R|I|Q-1|||1^RD|42|DEM'));
    expect(buildAck(query, 'AA', { ...fixed, answerType: { code: 'ADR', structure: 'ADR_A19' } }).text.split('\r')[0]).toContain('||ADR^A19^ADR_A19|ACK00000000000000001|P|2.5');
    const old = decoded(hl7('MSH|^~\\&|WARD|H|HIS|H|20240102||QRY^A19|Q-2|P|2.3', 'QRD|20240102|R|I|Q-2|||1^RD|42|DEM'));
    expect(buildAck(old, 'AA', { ...fixed, answerType: { code: 'ADR', structure: 'ADR_A19' } }).text.split('\r')[0]).toContain('||ADR^A19|ACK00000000000000001|P|2.3');
  });

  it('v2.5+: one ERR per error, ERR-2 location, ERR-3 code^text^HL70357, ERR-4 E, ERR-8 the message', () => {
    const ack = buildAck(received, 'AE', {
      ...fixed,
      error: [hl7Error(101, 'PID-3 is required', { segment: 'PID', sequence: 1, field: 3 }), hl7Error(207, 'the store is down')],
    });
    const lines = ack.text.split('\r');
    expect(lines[1]).toBe('MSA|AE|CTRL-1');
    expect(lines[2]).toBe('ERR||PID^1^3|101^Required field missing^HL70357|E||||PID-3 is required');
    expect(lines[3]).toBe('ERR|||207^Application internal error^HL70357|E||||the store is down');
    const a = decoded(Buffer.from(ack.text));
    expect(a.get('ERR-3.1')).toBe('101');
    expect(a.get('ERR[2]-8')).toBe('the store is down');
  });

  it('before v2.5: ERR-1 as SEG^seq^field^code&text&HL70357, repeated per error', () => {
    const old = decoded(hl7('MSH|^~\\&|LAB|NORTH|ADT|SOUTH|20240102||ADT^A01|C9|P|2.3'));
    const ack = buildAck(old, 'AR', {
      ...fixed,
      error: [hl7Error(101, 'x', { segment: 'MSH', sequence: 1, field: 10 }), hl7Error(207, 'y')],
    });
    const lines = ack.text.split('\r');
    expect(lines[0]).toContain('|ACK^A01|'); // v2.3 has no message structure component
    expect(lines[2]).toBe('ERR|MSH^1^10^101&Required field missing&HL70357~^^^207&Application internal error&HL70357');
    const a = decoded(Buffer.from(ack.text));
    expect(a.get('ERR-1(2).4.1')).toBe('207');
  });

  describe('MSA-3 before v2.5: ST, at most 80 characters', () => {
    const v = (version: string) => decoded(hl7(`MSH|^~\\&|LAB|NORTH|ADT|SOUTH|20240102||ADT^A01|C9|P|${version}`));
    const msa3 = (ack: { text: string }) => ack.text.split('\r')[1]!.split('|')[3] ?? '';
    const long = 'BTS-1 counts 5 messages, the batch holds 1: messages were lost on the way, or the count is wrong; no message of the batch is stored: send the whole batch again';

    it.each(['2.1', '2.2', '2.3', '2.3.1', '2.4'])('v%s: cut after the last clause that fits, nothing added; a reason that fits is whole', (version) => {
      expect(msa3(buildAck(v(version), 'AR', { ...fixed, error: hl7Error(100, long) }))).toBe('BTS-1 counts 5 messages, the batch holds 1');
      const fits = 'x'.repeat(80);
      expect(msa3(buildAck(v(version), 'AR', { ...fixed, error: hl7Error(100, fits) }))).toBe(fits);
    });

    it('cut after a word when no clause ends in its second half, else where the text stops fitting', () => {
      const words = 'a '.repeat(30) + 'reason that goes on beyond the eighty characters of the field';
      // the 80th character is the space after "on", the 81st the "b" of "beyond"
      expect(msa3(buildAck(v('2.3'), 'AR', { ...fixed, error: hl7Error(100, words) }))).toBe(`${'a '.repeat(30)}reason that goes on`);
      expect(msa3(buildAck(v('2.3'), 'AR', { ...fixed, error: hl7Error(100, 'y'.repeat(100)) }))).toBe('y'.repeat(80));
    });

    it('never splits an escape sequence or a character beyond U+FFFF', () => {
      // 78 characters, then | (\F\ as written: 81 in all)
      const escaped = msa3(buildAck(v('2.3'), 'AR', { ...fixed, error: hl7Error(100, `${'x'.repeat(78)}|yyyy`) }));
      expect(escaped).toBe('x'.repeat(78));
      const astral = msa3(buildAck(v('2.3'), 'AR', { ...fixed, error: hl7Error(100, `${'x'.repeat(79)}😀`) }));
      expect(astral).toBe('x'.repeat(79));
    });

    it('any reason: MSA-3 as written is at most 80 characters, and reads back as the start of the reason (property)', () => {
      const piece = fc.constantFrom('|', '^', '~', '\\', '&', '\r', ' ', '; ', ': ', ',', 'é', '😀', 'word', 'A');
      fc.assert(
        // padded so that the cut falls anywhere among the pieces (fast-check keeps arrays short by default)
        fc.property(fc.integer({ min: 0, max: 80 }), fc.array(piece, { maxLength: 40, size: 'max' }), (pad, parts) => {
          const reason = 'r'.repeat(pad) + parts.join('') + 'end';
          const ack = buildAck(v('2.3'), 'AR', { ...fixed, error: hl7Error(100, reason) });
          expect(msa3(ack).length).toBeLessThanOrEqual(80);
          const read = decoded(encodeMessageBytes(ack.text, ack.charset)).get('MSA-3');
          expect(reason.startsWith(read)).toBe(true);
        }),
        { numRuns: 500 },
      );
    });

    it('from v2.5 MSA-3 is not written and ERR-8 carries the reason whole', () => {
      const ack = buildAck(v('2.5'), 'AR', { ...fixed, error: hl7Error(100, long) });
      expect(msa3(ack)).toBe('');
      expect(decoded(Buffer.from(ack.text)).get('ERR-8')).toBe(long);
    });
  });

  it(`escapes every value with the message's own delimiters: ${NASTY} round-trips`, () => {
    const delimiterSets = ['|^~\\&', '#$%\\&', '!@*?+'];
    for (const set of delimiterSets) {
      const d: Hl7Delimiters = { field: set[0]!, component: set[1]!, repetition: set[2]!, escape: set[3]!, subcomponent: set[4]!, truncation: '' };
      for (const version of ['2.3', '2.5']) {
        const msg = decoded(
          hl7(
            ['MSH', set.slice(1), escapeValue(NASTY, d), `FAC${d.component}${escapeValue(NASTY, d)}`, 'R', 'F', '2024', '', `ADT${d.component}A01`, escapeValue(NASTY, d), 'P', version].join(d.field),
          ),
        );
        expect(msg.header.sendingApplication.namespaceId).toBe(NASTY);
        expect(msg.header.controlId).toBe(NASTY);
        const ack = buildAck(msg, 'AE', { error: hl7Error(207, NASTY, { segment: 'PID', sequence: 1, field: 3 }) });
        expect(ack.text.startsWith(`MSH${set}${d.field}`)).toBe(true);
        const a = decoded(Buffer.from(ack.text));
        expect(a.delimiters).toEqual(d);
        expect(a.header.receivingApplication.namespaceId).toBe(NASTY);
        expect(a.header.receivingFacility).toEqual({ namespaceId: 'FAC', universalId: NASTY, universalIdType: '' });
        expect(a.get('MSA-2')).toBe(NASTY);
        if (version === '2.5') expect(a.get('ERR-8')).toBe(NASTY);
      }
    }
  });

  it('any text round-trips through the ERR user message and MSA-2 (property)', () => {
    // delimiters, line breaks, white space, escape-like text, "MSH|", and characters beyond ASCII
    const piece = fc.constantFrom('|', '^', '~', '\\', '&', '\r', '\n', ' ', '\t', '#', 'MSH|', '\\X41\\', 'é', '€', '😀', 'A', '0');
    const text = fc.array(piece, { maxLength: 30 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(text, text, (message, controlId) => {
        const id = controlId.trim() === '' ? `X${controlId}` : controlId;
        const msg = decoded(hl7(`MSH|^~\\&|A|B|C|D|2024||ADT^A01|${escapeValue(id, received.delimiters)}|P|2.5`));
        expect(msg.header.controlId).toBe(id);
        const ack = buildAck(msg, 'AE', { error: hl7Error(207, message) });
        const a = decoded(encodeMessageBytes(ack.text, ack.charset));
        expect(a.get('MSA-2')).toBe(id);
        expect(a.get('ERR-8')).toBe(message);
      }),
      { numRuns: 1000 },
    );
  });

  it('falls back to version 2.5 and default delimiters when nothing could be read, and writes MSA-2 empty', () => {
    const r = decodeMessage(Buffer.from('garbage'));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const ack = buildAck(r.received, 'AR', { ...fixed, error: r.error });
    expect(ack.text).toBe(
      `MSH|^~\\&|||||20240102030405${localOffset(NOW)}||ACK^^ACK|ACK00000000000000001|P|2.5\r` +
        'MSA|AR|\r' +
        'ERR||MSH^1|100^Segment sequence error^HL70357|E||||the first segment is not MSH: this is not an HL7 v2 message\r',
    );
    expect(buildAck(undefined, 'CR').text).toMatch(/^MSH\|\^~\\&\|/);
  });

  it('a message that failed after MSH was read is answered with its own delimiters and control id', () => {
    const r = decodeMessage(hl7('MSH#$%\\&#APP#FAC#ME#HERE#2024##ADT$A01#C77##2.4', 'PID#1', 'XX'));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const a = decoded(Buffer.from(buildAck(r.received, 'AR', { error: r.error }).text));
    expect(a.delimiters.field).toBe('#');
    expect(a.get('MSA-2')).toBe('C77');
    expect(a.header.receivingApplication.namespaceId).toBe('APP');
    expect(a.header.processingId).toBe('P'); // MSH-11 was empty: P
    expect(a.get('ERR-1.4.1')).toBe('100'); // v2.4: ERR-1 layout
  });

  it('echoes MSH-18 and answers in the same charset', () => {
    const latin = decoded(Buffer.from('MSH|^~\\&|L\xC4B|NORTH|ADT|SOUTH|2024||ADT^A01|C1|P|2.5||||||8859/1\r', 'latin1'));
    const ack = buildAck(latin, 'AA');
    expect(ack.charset).toBe('8859/1');
    expect(ack.text.split('\r')[0]?.endsWith('|8859/1')).toBe(true);
    const bytes = encodeMessageBytes(ack.text, ack.charset);
    expect(bytes.includes(0xc4)).toBe(true);
    expect(decoded(bytes).header.receivingApplication.namespaceId).toBe('LÄB');
    expect(buildAck(received, 'AA').text).not.toContain('UNICODE');
  });

  it('an ACK is itself valid: an invalid received processing id or version is not echoed', () => {
    const r = decodeMessage(hl7('MSH|^~\\&|A|B|C|D|2024||ADT^A01|C1|X|9.9'));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const ack = buildAck(r.received, 'AR', { error: r.error });
    const a = decoded(ack.bytes);
    expect([a.header.processingId, a.header.version]).toEqual(['P', '2.5']);
    expect(a.get('MSA-2')).toBe('C1');
  });

  it('is written in the charset its MSH-18 names; UTF-8 (and says so) when an echoed value does not fit', () => {
    // a UTF-8 byte order mark made the message UTF-8 although MSH-18 says 8859/1
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const fits = decoded(Buffer.concat([bom, Buffer.from('MSH|^~\\&|CAFÉ|B|C|D|2024||ADT^A01|C1|P|2.5||||||8859/1\r')]));
    expect(fits.charset).toBe('UNICODE UTF-8');
    const a1 = buildAck(fits, 'AA');
    expect([a1.charset, a1.bytes.includes(0xc9)]).toEqual(['8859/1', true]);
    expect(decoded(a1.bytes).header.receivingApplication.namespaceId).toBe('CAFÉ');

    const euro = decoded(Buffer.concat([bom, Buffer.from('MSH|^~\\&|€URO|B|C|D|2024||ADT^A01|C1|P|2.5||||||8859/1\r')]));
    const a2 = buildAck(euro, 'AA');
    expect(a2.charset).toBe('UNICODE UTF-8');
    expect(a2.text.split('\r')[0]?.endsWith('|UNICODE UTF-8')).toBe(true);
    expect(decoded(a2.bytes).header.receivingApplication.namespaceId).toBe('€URO');
  });

  it('uses our own identity for MSH-3/4 when given, and the caller-supplied control id generator', () => {
    let n = 0;
    const ack = buildAck(received, 'CA', {
      controlId: () => `OURS${++n}`,
      sendingApplication: { namespaceId: 'FICUS', universalId: '', universalIdType: '' },
      sendingFacility: { namespaceId: 'GW', universalId: '1.2', universalIdType: 'ISO' },
    });
    const a = decoded(Buffer.from(ack.text));
    expect(a.header.sendingApplication.namespaceId).toBe('FICUS');
    expect(a.header.sendingFacility.universalId).toBe('1.2');
    expect(a.header.controlId).toBe('OURS1');
    expect(a.get('MSA-1')).toBe('CA');
  });
});

describe('newControlId', () => {
  it('is 20 letters or digits, and unique', () => {
    const ids = Array.from({ length: 20_000 }, () => newControlId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids.slice(0, 100)) expect(id).toMatch(/^[0-9A-Za-z]{20}$/);
  });

  it('sorts by time', () => {
    expect(newControlId(1_000).slice(0, 9) < newControlId(2_000_000_000_000).slice(0, 9)).toBe(true);
  });
});

describe('decideAck (original and enhanced mode)', () => {
  const outcomes: AckOutcome[] = ['accepted', 'error', 'rejected'];

  it('original mode (MSH-15 empty or absent) always answers AA/AE/AR', () => {
    for (const header of [{}, { acceptAckType: '' }]) {
      expect(outcomes.map((o) => decideAck(header, o))).toEqual([
        { mode: 'original', send: true, code: 'AA' },
        { mode: 'original', send: true, code: 'AE' },
        { mode: 'original', send: true, code: 'AR' },
      ]);
    }
  });

  it.each([
    ['AL', [true, true, true]],
    ['NE', [false, false, false]],
    ['ER', [false, true, true]],
    ['SU', [true, false, false]],
  ] as const)('enhanced mode, MSH-15 %s', (acceptAckType, due) => {
    expect(outcomes.map((o) => decideAck({ acceptAckType }, o))).toEqual([
      { mode: 'enhanced', send: due[0], code: 'CA' },
      { mode: 'enhanced', send: due[1], code: 'CE' },
      { mode: 'enhanced', send: due[2], code: 'CR' },
    ]);
    expect(outcomes.map((o) => commitAckDue(acceptAckType, o))).toEqual(due);
  });
});
