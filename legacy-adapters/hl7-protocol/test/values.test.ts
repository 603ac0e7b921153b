/**
 * The HL7 value helpers shared by the legacy inbound and the new services: text, dates and
 * times, and the code tables, including the edges (HL7's null, impossible dates, offsets).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  abnormalFlag,
  cutToWidth,
  admissionType,
  dispositionCode,
  maritalCode,
  observationAction,
  parseDateTime,
  plainText,
  sexCode,
  stateCode,
  upperText,
  zipCode,
} from '../src/index.js';

describe('text', () => {
  it('trims, upper-cases, folds spaces and cuts to the width; empty is "not sent", "" is "clear"', () => {
    expect(upperText("  o'brien   smith ", 35)).toBe("O'BRIEN SMITH");
    expect(upperText('abcdef', 3)).toBe('ABC');
    expect(upperText('ab  cd', 3)).toBe('AB');
    expect(upperText('   ', 10)).toBeUndefined();
    expect(upperText('""', 10)).toBeNull();
    expect(plainText(' (217)555-0101 ', 20)).toBe('(217)555-0101');
    expect(plainText('', 20)).toBeUndefined();
    expect(plainText('""', 20)).toBeNull();
  });

  it('counts characters as a VARCHAR(n) does: a character outside the BMP is never cut in two', () => {
    const kanji = '\u{20BB7}'; // 𠮷: two UTF-16 units
    expect(upperText(kanji.repeat(18), 35)).toBe(kanji.repeat(18));
    expect(plainText(`${kanji.repeat(40)}`, 35)).toBe(kanji.repeat(35));
    expect(upperText(`A${kanji}B`, 2)).toBe(`A${kanji}`);
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), fc.integer({ min: 0, max: 40 }), (v, width) => {
        const cut = cutToWidth(v, width);
        const points = [...cut];
        expect(v.startsWith(cut)).toBe(true);
        expect(points.length).toBe(Math.min(width, [...v].length));
        expect(/\p{Cs}/u.test(cut)).toBe(false); // no lone surrogate
      }),
    );
  });

  it('prints ZIP codes and keeps only two-letter states', () => {
    expect(zipCode('627011234')).toBe('62701-1234');
    expect(zipCode('62701')).toBe('62701');
    expect(zipCode('k1a 0b1')).toBe('K1A 0B1');
    expect(stateCode('il')).toBe('IL');
    expect(stateCode('Illinois')).toBeUndefined();
    expect(stateCode('""')).toBeNull();
  });
});

describe('parseDateTime', () => {
  it('reads DTM values of at least a day, with or without time, seconds, fractions and offset', () => {
    expect(parseDateTime('20240701')).toEqual({ date: '2024-07-01', timestamp: '2024-07-01 00:00:00' });
    expect(parseDateTime('2024070110')).toEqual({ date: '2024-07-01', timestamp: '2024-07-01 10:00:00' });
    expect(parseDateTime('202407011030')).toEqual({ date: '2024-07-01', timestamp: '2024-07-01 10:30:00' });
    expect(parseDateTime('20240701103015.1234')).toEqual({ date: '2024-07-01', timestamp: '2024-07-01 10:30:15' });
    expect(parseDateTime('20240701103015-0500')).toEqual({ date: '2024-07-01', timestamp: '2024-07-01 10:30:15-05:00' });
    expect(parseDateTime(' 20240701 ')?.date).toBe('2024-07-01');
  });

  it('refuses what names no day, impossible dates and times, and bad offsets', () => {
    for (const bad of ['', '2024', '202407', '20240230', '20241301', '20240701246000', '20240701106000', '20240701+1500', 'yesterday', '2024-07-01']) {
      expect(parseDateTime(bad), bad).toBeUndefined();
    }
    expect(parseDateTime('20240229')?.date).toBe('2024-02-29');
    expect(parseDateTime('20230229')).toBeUndefined();
  });
});

describe('code tables', () => {
  it('sex (0001) and marital status (0002)', () => {
    expect(['M', 'f', 'O', 'A', 'X', 'U'].map(sexCode)).toEqual(['M', 'F', 'U', 'U', 'U', 'U']);
    expect(sexCode('')).toBeUndefined();
    expect(sexCode('""')).toBe('U');
    expect(['S', 'M', 'D', 'W', 'A', 'U', 'E', 'B', 'C', 'P'].map(maritalCode)).toEqual(['S', 'M', 'D', 'W', 'A', 'U', 'A', 'S', 'U', 'U']);
    expect(maritalCode('""')).toBeNull();
  });

  it('patient class (0004) with admission type (0007)', () => {
    expect(admissionType('E', '')).toBe('E');
    expect(admissionType('I', 'R')).toBe('I');
    expect(admissionType('I', 'E')).toBe('E');
    expect(admissionType('P', 'A')).toBe('E');
    expect(admissionType('B', '')).toBe('I');
    expect(admissionType('R', '')).toBe('O');
    expect(admissionType('d', '')).toBe('D');
    expect(admissionType('N', '')).toBeUndefined();
    expect(admissionType('', '')).toBeUndefined();
  });

  it('discharge disposition (0112): one or two digits, as two', () => {
    expect(dispositionCode('1')).toBe('01');
    expect(dispositionCode(' 20 ')).toBe('20');
    expect(dispositionCode('123')).toBeUndefined();
    expect(dispositionCode('HOME')).toBeUndefined();
  });

  it('result status (0085) and abnormal flags (0078)', () => {
    const actions = Object.fromEntries(['F', 'u', 'P', 'R', 'S', 'C', 'A', 'D', 'W', 'I', 'O', 'N', 'X', 'Q'].map((c) => [c, observationAction(c)]));
    expect(actions).toEqual({
      F: { store: 'F' },
      // "status change to final without retransmitting results already sent as preliminary": not a result of its own
      u: { finalize: true },
      P: { store: 'P' },
      R: { store: 'P' },
      S: { store: 'P' },
      C: { store: 'C' },
      A: { store: 'C' },
      D: { delete: true },
      W: { delete: true },
      I: { skip: true },
      O: { skip: true },
      N: { skip: true },
      X: { skip: true },
      Q: undefined,
    });
    expect(abnormalFlag('AA', false)).toBe('A');
    expect(abnormalFlag('>', true)).toBe('HH');
    expect(abnormalFlag('<', true)).toBe('LL');
    expect(abnormalFlag('N', true)).toBeNull();
    expect(abnormalFlag('N', false)).toBe('N');
    expect(abnormalFlag('B', true)).toBeNull();
  });
});
