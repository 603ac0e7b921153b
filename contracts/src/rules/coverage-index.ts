/**
 * Finds, for each rule, the first earlier rule that covers it, without comparing every pair:
 * 20,000 rules compared pairwise took minutes on the data plane's event loop. Earlier rules'
 * path patterns go into a tree keyed by literal segments (parameters and `*` share one key);
 * a rule is compared, in order, only with the earlier rules whose pattern covers its first
 * path, which every covering rule must have. The answer is the pairwise one (a property test
 * holds it to that).
 */
import { ruleCovers, type CoverageInput } from './rule-coverage.js';
import type { PathPattern } from './path-pattern.js';

interface Node {
  literal: Map<string, Node>;
  /** `:param` or `*`: covers any one segment */
  wild: Node | undefined;
  /** rules with a pattern that ends here (closed) */
  exact: number[];
  /** rules with a pattern that ends here in `**` */
  open: number[];
}

const node = (): Node => ({ literal: new Map(), wild: undefined, exact: [], open: [] });

class PatternTree {
  private readonly root = node();

  constructor(private readonly foldCase: boolean) {}

  private key(value: string): string {
    return this.foldCase ? value.toLowerCase() : value;
  }

  add(pattern: PathPattern, rule: number): void {
    let at = this.root;
    for (const s of pattern.segments) {
      if (s.kind === 'rest') break;
      if (s.kind === 'literal') {
        const k = this.key(s.value);
        let next = at.literal.get(k);
        if (!next) at.literal.set(k, (next = node()));
        at = next;
      } else {
        at = at.wild ??= node();
      }
    }
    (pattern.open ? at.open : at.exact).push(rule);
  }

  /** every rule with a pattern that covers `pattern` (patternCovers), in no order, maybe twice */
  covering(pattern: PathPattern, out: number[]): void {
    const fixed = pattern.open ? pattern.segments.length - 1 : pattern.segments.length;
    const walk = (at: Node, depth: number): void => {
      // an open pattern covers whatever has at least its fixed segments
      out.push(...at.open);
      if (depth === fixed) {
        if (!pattern.open) out.push(...at.exact);
        return;
      }
      const s = pattern.segments[depth]!;
      if (s.kind === 'literal') {
        const next = at.literal.get(this.key(s.value));
        if (next) walk(next, depth + 1);
      }
      if (at.wild) walk(at.wild, depth + 1);
    };
    walk(this.root, 0);
  }
}

/**
 * For each rule (by position), the position of the first earlier rule that takes every request
 * it matches, or -1; `foldCase`: as a gateway that compares literal segments regardless of case.
 * `work.comparisons` counts the pairs compared: what makes the check scale, countable in a test.
 */
export function firstCoveringRules(rules: CoverageInput[], foldCase = false, work?: { comparisons: number }): number[] {
  const tree = new PatternTree(foldCase);
  const candidates: number[] = [];
  return rules.map((later, j) => {
    let found = -1;
    const first = later.patterns[0];
    if (first) {
      candidates.length = 0;
      tree.covering(first, candidates);
      candidates.sort((a, b) => a - b);
      for (let i = 0; i < candidates.length; i++) {
        const e = candidates[i]!;
        if (i > 0 && e === candidates[i - 1]) continue;
        if (work) work.comparisons++;
        if (ruleCovers(rules[e]!, later, foldCase)) {
          found = e;
          break;
        }
      }
    }
    // a rule with invalid paths covers nothing (ruleCovers), so it is not indexed
    for (const p of later.patterns) tree.add(p, j);
    return found;
  });
}
