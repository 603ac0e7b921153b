/** A rule file that is a YAML alias bomb: 10^5 strings from five lines, its first alias at 6:10. */
export const RULES = 'http:\n  - id: legacy-default\n    match: { path: /** }\n    mode: legacy\n';
export const ALIAS_BOMB = `${RULES}x-a: &a [x, x, x, x, x, x, x, x, x, x]
x-b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
x-c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
x-d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
x-e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
`;
