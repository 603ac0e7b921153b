/**
 * "Can never match" at scale: the check finds the first earlier rule that covers each rule
 * through an index rather than by comparing every pair (20,000 rules took 98 s pairwise, on
 * the data plane's event loop), and says exactly what the pairwise check said.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { firstCoveringRules } from '../src/rules/coverage-index.js';
import { parsePathPattern, ruleCovers, validateRuleDocuments, type CoverageInput, type HttpRule } from '../src/rules/index.js';

/** The check as it was: every earlier rule, in order, against each rule. */
const pairwise = (rules: CoverageInput[], fold: boolean): number[] => rules.map((b, j) => rules.slice(0, j).findIndex((a) => ruleCovers(a, b, fold)));

const segment = fc.constantFrom('api', 'API', 'Api', 'patients', 'results', 'x', ':p', ':q', '*');
const path = fc
  .tuple(fc.array(segment, { maxLength: 3 }), fc.boolean())
  .map(([segs, open]) => {
    // a parameter name appears once in a pattern
    const named = segs.map((s, i) => (s.startsWith(':') ? `${s}${i}` : s));
    return '/' + [...named, ...(open ? ['**'] : [])].join('/');
  });
const predicate = fc.constantFrom({ equals: '7' }, { equals: '8' }, { present: true }, { present: false }, { regex: '^7$' });
const rule = fc.record(
  {
    paths: fc.array(path, { minLength: 1, maxLength: 2 }),
    methods: fc.option(fc.subarray(['GET', 'HEAD', 'POST', 'PUT'], { minLength: 1 }), { nil: undefined }),
    headers: fc.option(fc.dictionary(fc.constantFrom('x-ward', 'X-Ward', 'x-debug'), predicate, { maxKeys: 2 }), { nil: undefined }),
    query: fc.option(fc.dictionary(fc.constantFrom('v', 'w'), predicate, { maxKeys: 1 }), { nil: undefined }),
    invalid: fc.boolean(),
  },
  { requiredKeys: ['paths', 'invalid'] },
);

function inputOf(r: { paths: string[]; methods?: string[]; headers?: Record<string, object>; query?: Record<string, object>; invalid: boolean }, i: number): CoverageInput {
  const match = { paths: r.paths, ...(r.methods ? { methods: r.methods } : {}), ...(r.headers ? { headers: r.headers } : {}), ...(r.query ? { query: r.query } : {}) };
  const rule = { id: `r${i}`, match, mode: 'legacy' } as unknown as HttpRule;
  // a rule whose paths did not parse carries none (as the validation leaves it)
  return { rule, patterns: r.invalid && i % 3 === 0 ? [] : r.paths.map(parsePathPattern) };
}

describe('the coverage check, indexed', () => {
  it('finds, for every rule, the same first covering rule as the pairwise check (random rule sets, with and without case folding)', () => {
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 40 }), fc.boolean(), (raw, fold) => {
        const rules = raw.map(inputOf);
        expect(firstCoveringRules(rules, fold)).toEqual(pairwise(rules, fold));
      }),
      { numRuns: 2_000 },
    );
  });

  it('validates 20,000 rules comparing a few candidates per rule, not every earlier one, and still finds the rules they hide', () => {
    const http: HttpRule[] = [];
    for (let i = 0; i < 20_000; i++) {
      const service = `svc${i % 40}`;
      if (i % 5 === 0) http.push({ id: `r${i}`, match: { methods: ['GET'], paths: [`/api/${service}/res${i}/:id`, `/api/${service}/res${i}/:id/*`] }, mode: 'legacy' } as unknown as HttpRule);
      else if (i % 5 === 1) http.push({ id: `r${i}`, match: { path: `/${service}/:mrn/res${i}/**`, headers: { 'x-ward': { equals: String(i % 9) } } }, mode: 'legacy' } as unknown as HttpRule);
      else http.push({ id: `r${i}`, match: { methods: ['POST', 'PUT'], path: `/api/${service}/res${i}` }, mode: 'legacy' } as unknown as HttpRule);
    }
    // two the index must still find: one hidden by an earlier rule, one by the catch-all before it
    http.push({ id: 'hidden', match: { methods: ['POST'], path: '/api/svc2/res2' }, mode: 'legacy' } as unknown as HttpRule);
    http.push({ id: 'legacy-default', match: { path: '/**' }, mode: 'legacy' } as unknown as HttpRule);
    const r = validateRuleDocuments([{ data: { upstreams: { legacy: { url: 'http://127.0.0.1:8000' } }, http } }], { caseInsensitivePaths: true });
    expect(r.ok ? [] : r.errors.map((e) => `${e.ruleId}: ${e.reason}`)).toEqual(['hidden: can never match: rule "r2" comes first and takes every request this one matches']);
    // the work, not the time (speed belongs in benchmarks): pairwise, 200 million comparisons
    const work = { comparisons: 0 };
    const inputs = http.map((rule) => {
      const m = rule.match as { path?: string; paths?: string[] };
      return { rule, patterns: (m.paths ?? [m.path!]).map(parsePathPattern) };
    });
    const found = firstCoveringRules(inputs, true, work);
    expect(found.filter((i) => i >= 0)).toEqual([2]);
    expect(work.comparisons).toBeLessThan(inputs.length);
  });
});
