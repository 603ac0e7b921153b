import type { Hl7Delimiters } from './delimiters.js';

/**
 * Escapes a value for writing with a message's own delimiters: \F\ \S\ \T\ \R\ \E\, and CR/LF
 * as \X0D\ / \X0A\ because a raw line break would end the segment. The result is safe at any
 * level (field, component, subcomponent).
 *
 * The v2.7 truncation character is left as it is: node-hl7-client does not read \P\ back, so
 * escaping it would break the round trip, and it only means "truncated" at the end of a value
 * that a receiver had to shorten.
 */
export function escapeValue(value: string, d: Hl7Delimiters): string {
  let out = '';
  let plainFrom = 0;
  for (let i = 0; i < value.length; i++) {
    const replacement = escapeFor(value.charAt(i), d);
    if (replacement === undefined) continue;
    out += value.slice(plainFrom, i) + replacement;
    plainFrom = i + 1;
  }
  return plainFrom === 0 ? value : out + value.slice(plainFrom);
}

function escapeFor(ch: string, d: Hl7Delimiters): string | undefined {
  const e = d.escape;
  switch (ch) {
    case d.escape:
      return `${e}E${e}`;
    case d.field:
      return `${e}F${e}`;
    case d.component:
      return `${e}S${e}`;
    case d.subcomponent:
      return `${e}T${e}`;
    case d.repetition:
      return `${e}R${e}`;
    case '\r':
      return `${e}X0D${e}`;
    case '\n':
      return `${e}X0A${e}`;
    default:
      return undefined;
  }
}
