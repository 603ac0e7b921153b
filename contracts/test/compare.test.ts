import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareForMethod, compareObserved, compileCompare, formatDiff, redactDiff, type Observed } from '../src/parity/compare.js';
import { compilePath, fieldOf } from '../src/parity/json-paths.js';

const json = (value: unknown, status = 200, headers: Record<string, string> = { 'content-type': 'application/json' }): Observed => ({
  status,
  headers,
  body: { kind: 'json', value, sha256: JSON.stringify(value) },
});

describe('paths', () => {
  it('matches wildcards', () => {
    expect(compilePath('/items/*/id')(['items', '3', 'id'])).toBe(true);
    expect(compilePath('/items/*/id')(['items', '3', 'name'])).toBe(false);
    expect(compilePath('/**/updatedAt')(['a', 'b', 'updatedAt'])).toBe(true);
    expect(compilePath('/**/updatedAt')(['updatedAt'])).toBe(true);
    expect(compilePath('')([])).toBe(true);
    expect(compilePath('/a~1b')(['a/b'])).toBe(true);
    expect(fieldOf('/items/12/codes/0')).toBe('/items/*/codes/*');
  });
});

describe('compareObserved', () => {
  const cc = compileCompare(undefined);

  it('finds nothing between equal answers', () => {
    const r = compareObserved(json({ a: 1, b: [1, 2] }), json({ b: [1, 2], a: 1 }), cc);
    expect(r).toEqual({ match: true, fields: [], diff: [], noise: [] });
  });

  it('names status, header and body fields', () => {
    const r = compareObserved(json({ name: 'SMITH', ids: [{ id: 1 }, { id: 2 }] }), json({ name: 'SMYTH', ids: [{ id: 1 }, { id: 3 }], extra: true }, 200, { 'content-type': 'text/plain; charset=utf-8' }), cc);
    expect(r.match).toBe(false);
    expect(r.fields).toEqual(['header:content-type', '/extra', '/ids/*/id', '/name']);
    expect(r.diff.find((d) => d.path === '/extra')).toEqual({ path: '/extra', kind: 'added', target: true });
    const s = compareObserved(json({}, 200), json({}, 404), cc);
    expect(s.fields).toEqual(['status']);
  });

  it('a failed target is a status mismatch, with nothing else compared', () => {
    const r = compareObserved(json({ a: 1 }), { status: 0, error: 'timeout', headers: {}, body: { kind: 'none' } }, cc);
    expect(r.diff).toEqual([{ path: 'status', kind: 'changed', legacy: 200, target: 'timeout' }]);
  });

  it('ignores paths, normalizes values, orders arrays by key', () => {
    const c = compileCompare({
      ignore: ['/meta/requestId', '/items/*/etag'],
      normalize: ['timestamps', 'uuids', { kind: 'numbers-as-strings', paths: ['/items/*/qty'] }, { kind: 'trim', paths: ['/**/name'] }],
      arrayKeys: { '/items': 'id' },
    });
    const a = { meta: { requestId: 'x', at: '2026-01-01T10:00:00Z' }, id: '0b6d5f3e-0000-4000-8000-000000000001', items: [{ id: 'a', qty: '2', etag: '1', name: 'x ' }, { id: 'b', qty: 3 }] };
    const b = { meta: { requestId: 'y', at: '2026-01-02T11:30:00.123+01:00' }, id: '9f1d5f3e-0000-4000-8000-00000000000f', items: [{ id: 'b', qty: '3' }, { id: 'a', qty: 2, etag: '2', name: 'x' }] };
    expect(compareObserved(json(a), json(b), c).diff).toEqual([]);
    // normalizers apply where they are told to only
    const d = compareObserved(json({ n: '2' }), json({ n: 2 }), c);
    expect(d.fields).toEqual(['/n']);
  });

  it('compares other bodies by digest', () => {
    const bytes = (sha256: string): Observed => ({ status: 200, headers: {}, body: { kind: 'bytes', sha256, bytes: 10 } });
    expect(compareObserved(bytes('aa'), bytes('aa'), cc).match).toBe(true);
    expect(compareObserved(bytes('aa'), bytes('bb'), cc).fields).toEqual(['body']);
  });

  it('does not count what differs between two legacy answers (noise)', () => {
    const legacy1 = json({ name: 'A', servedAt: 1, items: [{ v: 1, rnd: 5 }] });
    const legacy2 = json({ name: 'A', servedAt: 2, items: [{ v: 1, rnd: 6 }] });
    const target = json({ name: 'B', servedAt: 3, items: [{ v: 1, rnd: 7 }] });
    const r = compareObserved(legacy1, target, cc, legacy2);
    expect(r.fields).toEqual(['/name']);
    expect(r.noise.sort()).toEqual(['/items/*/rnd', '/servedAt']);
  });

  it('redacts values in kept samples, keeping paths and shapes', () => {
    const r = compareObserved(json({ name: 'SMITH^JOHN', dob: '1970-01-01', addr: { city: 'X' } }, 200), json({ name: 'SMYTH^JOHN', dob: 19700101, addr: { city: 'Y', zip: '1' } }, 200), cc);
    const red = redactDiff(r.diff, false);
    const text = JSON.stringify(red) + formatDiff(red);
    expect(text).not.toMatch(/SMITH|SMYTH|1970|"X"|"Y"/);
    expect(red).toContainEqual({ path: '/dob', kind: 'changed', legacy: '‹string›', target: '‹number›' });
    expect(red).toContainEqual({ path: '/addr/zip', kind: 'added', target: '‹string›' });
    expect(formatDiff(red)).toContain('~ /name: ‹string› → ‹string›');
    expect(redactDiff(r.diff, true)).toEqual(r.diff);
  });
});

describe('compareObserved: what a probe of the demo stack found (2026-12-07)', () => {
  const cc = compileCompare(undefined);
  const typed = (contentType: string, value: unknown = { a: 1 }) => json(value, 200, { 'content-type': contentType });

  it('compares a content type by its meaning, not its spelling', () => {
    const same = (a: string, b: string) => compareObserved(typed(a), typed(b), cc).match;
    expect(same('application/json; charset=utf-8', 'application/json;charset=UTF-8')).toBe(true);
    expect(same('Application/JSON; Charset="utf-8"', 'application/json')).toBe(true);
    expect(same('application/fhir+json;charset=utf-8', 'application/fhir+json')).toBe(true);
    expect(same('text/plain; charset=utf-8; format=flowed', 'text/plain;format=flowed;charset=UTF-8')).toBe(true);
    // a charset means something outside JSON; another type or parameter is another content type
    expect(same('text/plain; charset=utf-8', 'text/plain')).toBe(false);
    expect(same('text/html; charset=iso-8859-1', 'text/html; charset=utf-8')).toBe(false);
    expect(same('application/json; charset=utf-8', 'text/plain; charset=utf-8')).toBe(false);
    expect(same('application/fhir+json', 'application/json')).toBe(false);
    expect(same('application/json; charset=utf-16', 'application/json')).toBe(false);
  });

  it('names the item a list lacks or adds, wherever it is, and compares the others with their equals', () => {
    const r = (id: number, units = 'mg/dL') => ({ id, units });
    const legacy = json({ items: [r(5), r(4), r(3), r(2), r(1)] });
    // a result only the new service has, in the middle
    const extra = compareObserved(legacy, json({ items: [r(5), r(4), r(9), r(3), r(2), r(1)] }), cc);
    expect(extra.diff).toEqual([{ path: '/items/2', kind: 'added', target: r(9) }]);
    // the newest missing: that one; and with another changed further down: both, nothing else
    expect(compareObserved(legacy, json({ items: [r(4), r(3), r(2), r(1)] }), cc).diff).toEqual([{ path: '/items/0', kind: 'removed', legacy: r(5) }]);
    const missing = compareObserved(legacy, json({ items: [r(4), r(3, 'mmol/L'), r(2), r(1)] }), cc);
    expect(missing.diff).toEqual([
      { path: '/items/0', kind: 'removed', legacy: r(5) },
      { path: '/items/2/units', kind: 'changed', legacy: 'mg/dL', target: 'mmol/L' },
    ]);
    // a page shifted by one row (a patient the service lacks): one row out, one in, not every field of every row
    expect(compareObserved(legacy, json({ items: [r(4), r(3), r(2), r(1), r(0)] }), cc).diff).toEqual([
      { path: '/items/0', kind: 'removed', legacy: r(5) },
      { path: '/items/4', kind: 'added', target: r(0) },
    ]);
    // the same items in another order still differ: one moved
    expect(compareObserved(legacy, json({ items: [r(4), r(5), r(3), r(2), r(1)] }), cc).diff).toEqual([
      { path: '/items/0', kind: 'added', target: r(4) },
      { path: '/items/1', kind: 'removed', legacy: r(4) },
    ]);
  });
});

describe('compareObserved (properties)', () => {
  const value = fc.jsonValue({ maxDepth: 4 });
  it('an answer always matches itself, and differing fields are the same both ways', () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        const cc = compileCompare(undefined);
        expect(compareObserved(json(a), json(a), cc).match).toBe(true);
        const ab = compareObserved(json(a), json(b), cc).fields.sort();
        const ba = compareObserved(json(b), json(a), cc).fields.sort();
        expect(ab).toEqual(ba);
      }),
    );
  });
  // the fields as the figures show them (indexes folded), as a rule's ignore list names them: a
  // list item ignored by its index is that index on both sides, and lists of different lengths
  // are no longer paired by index (a missing item is that item)
  it('ignoring every differing field leaves a match', () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        const first = compareObserved(json(a), json(b), compileCompare(undefined));
        const paths = first.fields.filter((p) => p.startsWith('/') || p === '');
        fc.pre(paths.every((p) => p !== ''));
        const again = compareObserved(json(a), json(b), compileCompare({ ignore: paths }));
        expect(again.match).toBe(true);
      }),
    );
  });
});

describe('an answer to HEAD', () => {
  const head = (etag: string, length = '120'): Observed => ({ status: 200, headers: { 'content-type': 'application/json', 'content-length': length, etag }, body: { kind: 'none' } });

  it('is compared by its length and ETag, or by what the rule names instead (a service with ETags of its own)', () => {
    const byDefault = compareForMethod(compileCompare(undefined), 'HEAD');
    expect(compareObserved(head('"a"'), head('"b"'), byDefault).fields).toEqual(['header:etag']);
    expect(compareObserved(head('"a"'), head('"a"', '121'), byDefault).fields).toEqual(['header:content-length']);
    const lengthOnly = compareForMethod(compileCompare({ headHeaders: ['Content-Length'] }), 'HEAD');
    expect(compareObserved(head('"a"'), head('"b"'), lengthOnly).match).toBe(true);
    expect(compareObserved(head('"a"'), head('"b"', '121'), lengthOnly).fields).toEqual(['header:content-length']);
    // GET compares neither unless the rule's headers name them
    const get = compareForMethod(compileCompare(undefined), 'GET');
    expect(get.headers).toEqual(['content-type']);
  });
});
