import { describe, expect, it } from 'vitest';
import { BadTargetError, foldedQuery, parseRequestTarget, queryParam } from './request-target.js';

const seg = (url: string) => parseRequestTarget(url).segments;

describe('parseRequestTarget', () => {
  it('splits and decodes the path, keeps the query raw', () => {
    expect(parseRequestTarget('/api/%70atients/10%2018?mrn=1&x=%20')).toEqual({ forwardPath: '/api/%70atients/10%2018?mrn=1&x=%20', segments: ['api', 'patients', '10 18'], query: 'mrn=1&x=%20' });
    expect(seg('/')).toEqual([]);
    expect(seg('/api/patients/')).toEqual(['api', 'patients']);
    expect(parseRequestTarget('http://example.org/a/b?c').forwardPath).toBe('/a/b?c');
  });

  it('merges runs of slashes, for the router and upstream alike (nginx, Apache and IIS read them as one)', () => {
    expect(parseRequestTarget('/api//patients///101826?next=//x')).toEqual({ forwardPath: '/api/patients/101826?next=//x', segments: ['api', 'patients', '101826'], query: 'next=//x' });
    expect(parseRequestTarget('//api/patients').forwardPath).toBe('/api/patients');
    expect(seg('/api/patients//')).toEqual(['api', 'patients']);
  });

  it('matches without path parameters, as Tomcat and Jetty map them, and forwards them as written', () => {
    expect(parseRequestTarget('/api/patients;jsessionid=AB12/101826;v=2')).toEqual({ forwardPath: '/api/patients;jsessionid=AB12/101826;v=2', segments: ['api', 'patients', '101826'], query: undefined });
    expect(seg('/api/;x/patients')).toEqual(['api', 'patients']);
    // an escaped semicolon is data, not a delimiter
    expect(seg('/files/a%3Bb')).toEqual(['files', 'a;b']);
  });

  it('refuses what could name another resource upstream', () => {
    for (const p of ['/a/../b', '/a/./b', '/a/..', '/a/%2e%2E/b', '/a/..;/b', '/a/.;x=1/b', '/a/..;jsessionid=1', '/a\\b', '/a%5cb', '/a%00', '/a/%zz', 'ftp://x/a', 'a/b']) {
      expect(() => parseRequestTarget(p), p).toThrow(BadTargetError);
    }
    expect(seg('/a/..x/.b/...')).toEqual(['a', '..x', '.b', '...']);
    expect(seg('/a/..%3B')).toEqual(['a', '..;']);
  });

  it('refuses a fragment anywhere: a target never carries one, and upstreams read what follows "#" as the query', () => {
    for (const p of ['/api/results#mrn=102782', '/api/encounters#&mrn=B&x?mrn=A', '/a?b=1#c', '/#', '/a/b#', 'http://h/api/results#mrn=1', 'http://h/a?b#c']) {
      expect(() => parseRequestTarget(p), p).toThrow(/request target cannot carry a fragment/);
    }
    // escaped, it is data
    expect(parseRequestTarget('/files/a%23b?q=%23')).toEqual({ forwardPath: '/files/a%23b?q=%23', segments: ['files', 'a#b'], query: 'q=%23' });
  });

  it('refuses an absolute-form target that is no URL, instead of throwing something else', () => {
    for (const p of ['http://[/a', 'http://:99999/x', 'https://x:y@/a']) expect(() => parseRequestTarget(p), p).toThrow(BadTargetError);
  });

  it('reads an escaped slash as FICUS_ENCODED_SLASHES says, and refuses dots between escaped slashes in every mode', () => {
    const path = '/api%2Fpatients%2f100042/x';
    expect(parseRequestTarget(path).segments).toEqual(['api/patients/100042', 'x']);
    expect(parseRequestTarget(path, 'keep').segments).toEqual(['api/patients/100042', 'x']);
    expect(parseRequestTarget(path, 'decode')).toEqual({ forwardPath: path, segments: ['api', 'patients', '100042', 'x'], query: undefined });
    expect(parseRequestTarget('/docs/2024%2F%2F0001%2F', 'decode').segments).toEqual(['docs', '2024', '0001']);
    expect(() => parseRequestTarget(path, 'refuse')).toThrow(/escaped slash/);
    expect(parseRequestTarget('/api/patients/100042', 'refuse').segments).toEqual(['api', 'patients', '100042']);
    for (const mode of ['keep', 'decode', 'refuse'] as const) {
      for (const p of ['/retired/x%2F..%2F..%2Flegacy', '/a/b%2f.%2fc', '/a/%2E%2E%2Fb']) expect(() => parseRequestTarget(p, mode), `${mode} ${p}`).toThrow(BadTargetError);
    }
    expect(parseRequestTarget('/a/..x%2F.b', 'decode').segments).toEqual(['a', '..x', '.b']);
  });

  it('reads query parameters decoded, first occurrence', () => {
    expect(queryParam('mrn=1%202&mrn=3&a+b=c+d', 'mrn')).toBe('1 2');
    expect(queryParam('mrn=1&a+b=c+d', 'a b')).toBe('c d');
    expect(queryParam('flag', 'flag')).toBe('');
    expect(queryParam(undefined, 'x')).toBeUndefined();
  });

  it('folds query names to lower case for a legacy that reads them so, decoded as queryParam reads them, values as written', () => {
    const folded = (url: string) => foldedQuery(parseRequestTarget(url));
    expect(folded('/r?MRN=Ab%43&from=2026')).toBe('mrn=Ab%43&from=2026');
    expect(folded('/r?mrn=x&y')).toBe('mrn=x&y');
    expect(folded('/r')).toBeUndefined();
    // a name whose capitals are escaped, or that decodes to "&", "=", "+" or "%": each reads back as its folded self
    for (const [name, want] of [['%4Drn', 'mrn'], ['A%26B', 'a&b'], ['A%3DB', 'a=b'], ['A%2BB', 'a+b'], ['A+B', 'a b'], ['A%25B', 'a%b'], ['A%ZZ', 'a%zz'], ['%C3%9CBER', 'über']] as const) {
      expect(queryParam(folded(`/r?${name}=V&z=1`), want), name).toBe('V');
    }
    const target = parseRequestTarget('/r?MRN=1');
    foldedQuery(target);
    // kept for the rest of the request; what is forwarded is what the client wrote
    expect(target).toMatchObject({ query: 'MRN=1', forwardPath: '/r?MRN=1', foldedQuery: 'mrn=1' });
  });
});
