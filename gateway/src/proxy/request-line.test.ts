import { describe, expect, it } from 'vitest';
import { namesOtherVersion, requestLineOverLimit } from './request-line.js';

/** The read as Node's parser reports it: its bytes, and where the parser stopped in them. */
const read = (text: string, stoppedBefore: string) => [Buffer.from(text, 'latin1'), text.indexOf(stoppedBefore)] as const;

describe('requestLineOverLimit', () => {
  const limit = 100;
  const long = '/' + 'a'.repeat(limit);

  it('is true for a target over the limit, read from the method on', () => {
    expect(requestLineOverLimit(...read(`GET ${long} HTTP/1.1\r\nHost: a\r\n\r\n`, ' HTTP/1.1'), limit)).toBe(true);
    // pipelined behind a whole request in the same read
    const behind = `GET / HTTP/1.1\r\nHost: a\r\n\r\nM-SEARCH ${long} HTTP/1.1\r\n`;
    expect(requestLineOverLimit(Buffer.from(behind), behind.lastIndexOf(' HTTP/1.1'), limit)).toBe(true);
  });

  it('is false for a target under the limit, a long header, or a line begun in an earlier read', () => {
    expect(requestLineOverLimit(...read(`GET /${'a'.repeat(limit - 2)} HTTP/1.1\r\nHost: a\r\n\r\n`, ' HTTP/1.1'), limit)).toBe(false);
    expect(requestLineOverLimit(...read(`GET / HTTP/1.1\r\nX-BIG: ${'a'.repeat(limit)}\r\n\r\n`, '\r\n\r\n'), limit)).toBe(false);
    expect(requestLineOverLimit(...read(`${'a'.repeat(limit)} HTTP/1.1\r\n`, ' HTTP/1.1'), limit)).toBe(false);
    expect(requestLineOverLimit(undefined, undefined, limit)).toBe(false);
    expect(requestLineOverLimit(Buffer.from('GET /'), 0, limit)).toBe(false);
  });
});

describe('namesOtherVersion', () => {
  it.each(['HTTP/1.2', 'HTTP/3.0', 'HTTP/2.1', 'HTTP/11.1', 'HTTP/1.10'])('is true for %s', (version) => {
    const text = `GET / ${version}\r\nHost: a\r\n\r\n`;
    // the parser stops inside the version (after its minor digit, or where a dot was due)
    expect(namesOtherVersion(Buffer.from(text), text.indexOf('\r\n') - 1)).toBe(true);
  });

  it.each(['HTTP/1.1x', 'HTTP/a.b', 'HTTP/1.', 'HTTP/2.0 '])('is false for the malformed %j', (version) => {
    const text = `GET / ${version}\r\nHost: a\r\n\r\n`;
    expect(namesOtherVersion(Buffer.from(text), text.indexOf('HTTP/') + 7)).toBe(false);
  });

  it('is false when the version is cut off by the end of the read', () => {
    expect(namesOtherVersion(Buffer.from('GET / HTTP/3.0'), 13)).toBe(false);
    expect(namesOtherVersion(undefined, undefined)).toBe(false);
  });
});
