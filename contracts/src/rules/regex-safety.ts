/**
 * Header and query regexes run on the gateway's event loop against whatever a client sends (a
 * header value up to 16 KB). JavaScript's engine backtracks, so a repetition inside a repetition
 * (`(a+)+$`, `(\w*)*`) can take exponential time on a crafted value: one request of 41 bytes held
 * a gateway for good, every other request waiting behind it. Telling the nestings that do from
 * those that do not (`^[a-z]+(-[a-z]+)*$`, where `-` decides) takes an analysis of overlap this
 * does not make: every one is refused where rules are checked, as the match can be written
 * without it (`^a+$`, `^[a-z-]+$`).
 *
 * What is not caught: alternatives under a repetition that overlap (`(a|aa)*`, `(\w|\d)+$`), and
 * the polynomial cost of unanchored patterns on long values (`.*icu.*`: 0.15 s on 16 KB).
 */
import { parseRegExpLiteral, visitRegExpAST, type AST } from '@eslint-community/regexpp';

/** a repetition that may match a varying number of times (`*`, `+`, `{2,}`, `{1,5}`; not `?` or `{3}`) */
const varies = (q: AST.Quantifier) => q.max > q.min && q.max > 1;

/** Why the pattern may backtrack exponentially, or undefined; the pattern must compile. */
export function catastrophicBacktracking(source: string): string | undefined {
  const ast = parseRegExpLiteral(new RegExp(source));
  let found: string | undefined;
  visitRegExpAST(ast, {
    onQuantifierEnter(outer) {
      if (found || !varies(outer)) return;
      visitRegExpAST(outer.element, {
        onQuantifierEnter(inner) {
          if (!found && varies(inner)) found = `"${inner.raw}" repeats inside "${outer.raw}"`;
        },
      });
    },
  });
  return found;
}
