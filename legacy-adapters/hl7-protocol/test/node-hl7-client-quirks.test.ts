/**
 * The habits of node-hl7-client that this package works around, pinned on the library itself.
 * When an upgrade changes one of them, its test here fails: the workaround named beside it may
 * then be removable (or may need changing). The tests that prove the workaround are named too.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Batch, FileBatch, Message } from 'node-hl7-client';
import { describe, expect, it } from 'vitest';

const MSH = 'MSH|^~\\&|APP|FAC|REC|RFAC|20240101||ADT^A01^ADT_A01|C1|P|2.5';
const BATCH = ['BHS|^~\\&|A', MSH, MSH.replace('C1', 'C2'), 'BTS|2'].join('\r');

describe('node-hl7-client 2.3.1, as installed', () => {
  it('is version 2.3.1', () => {
    const entry = createRequire(import.meta.url).resolve('node-hl7-client');
    const pkg = JSON.parse(readFileSync(path.join(entry, '../../../package.json'), 'utf8')) as { version: string };
    expect(pkg.version).toBe('2.3.1');
  });

  it('refuses a message with a UTF-8 byte order mark (decodeMessage strips it: "strips a UTF-8 byte order mark", sample ADT01-23)', () => {
    expect(() => new Message({ text: '\uFEFF' + MSH })).toThrow('text must begin with the MSH segment');
  });

  it('reads a batch whose field separator is not | as empty (decodeBatch splits it: "splits a #-batch too")', () => {
    expect(new Batch({ text: BATCH }).messages()).toHaveLength(2);
    const hash = BATCH.replaceAll('|', '#');
    expect(new Batch({ text: hash }).messages()).toEqual([]);
    expect(new FileBatch({ text: `FHS#^~\\&\r${hash}\rFTS#1` }).messages()).toEqual([]);
  });

  it('reports "Multiple MSH segments" for a value ending in MSH before a | (masked: "a facility code ending in MSH")', () => {
    expect(() => new Message({ text: MSH.replace('|FAC|', '|RMSH|') })).toThrow('Multiple MSH segments found');
    // in a #-message "MSH|" is plain text; the first MSH is not counted there, so it takes two
    expect(() => new Message({ text: 'MSH#^~\\&#APP#FAC#REC#RFAC#2024##ADT^A01#C1#P#2.5\rNTE#1##the MSH|segment, MSH|again' })).toThrow(
      'Multiple MSH segments found',
    );
  });

  it('trims every segment, losing trailing spaces ("trailing spaces at the end of a segment are kept", sample ADT01-23 PID-30)', () => {
    expect(new Message({ text: `${MSH}\rNTE|1||text   \rNTE|2||x` }).get('NTE.3').toString()).toBe('text');
  });

  it('throws a TypeError for a dotted path past the end of a field ("absent parts read as empty, never throw")', () => {
    expect(() => new Message({ text: `${MSH}\rPID|1||123^^^H^MR` }).get('PID.3.9.1')).toThrow(TypeError);
  });

  it('throws for a blank line, when the segments are first read (splitSegments drops blank lines)', () => {
    expect(() => new Message({ text: `${MSH}\r\rPID|1` }).get('PID.1')).toThrow('Segment must have a name');
  });

  it('escapes values it writes, in this version (4.0.0 does not; ACKs are built by buildAck, which escapes itself)', () => {
    const m = new Message({ text: `${MSH}\rPID|1||1||X` });
    m.set('PID.5.1', 'SMITH|JONES^A&B~C\\D');
    expect(m.toString()).toContain('SMITH\\F\\JONES\\S\\A\\T\\B\\R\\C\\E\\D');
    expect(new Message({ text: m.toString() }).get('PID.5.1').toString()).toBe('SMITH|JONES^A&B~C\\D');
  });

  it('\\Xhh\\ is read byte by byte as character codes, and \\P\\ (truncation) is not unescaped (decoding resolves both before the library reads: message-escapes.ts)', () => {
    const m = new Message({ text: `${MSH}\rNTE|1||\\XC3A9\\|a\\P\\b` });
    expect(m.get('NTE.3').toString()).toBe('\u00C3\u00A9');
    expect(m.get('NTE.4').toString()).toBe('a\\P\\b');
  });
});
