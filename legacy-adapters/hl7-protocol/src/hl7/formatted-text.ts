/**
 * Text as a reader should see it, from a value as it is read and stored (segment-values.ts,
 * the legacy's representation): the unescaping keeps HL7's formatting commands of FT (`\.br\`,
 * `\.sp 2\`…) as written and drops the highlighting ones (`\H\`, `\N\`), so a report reads
 * "Line one\.br\Line two". The stored value stays that way (the legacy holds it so, and the
 * two sides are compared byte for byte); this is for what shows it to a person (FHIR).
 *
 * Line breaks become "\n"; `.sp n` ends the line and skips n lines (1 when n is left out, at most 5); `.ce`
 * ends the line (the centring itself is dropped); the commands that only indent or fill
 * (`.in`, `.ti`, `.sk`, `.fi`, `.nf`) are dropped. Anything else between escape characters is
 * left as it is: an unknown sequence is the sender's text.
 */

const MAX_SKIP = 5;
const COMMAND = /^\.(br|sp|ce|in|ti|sk|fi|nf)(?:\s*([+-]?\d+))?$/;

/** `text` with the FT formatting commands it still holds as line breaks; `escape` is the message's escape character (MSH-2). */
export function readableText(text: string, escape = '\\'): string {
  if (!text.includes(`${escape}.`)) return text;
  let out = '';
  let from = 0;
  for (let open = text.indexOf(escape); open !== -1; ) {
    const close = text.indexOf(escape, open + 1);
    if (close === -1) break;
    const command = COMMAND.exec(text.slice(open + 1, close));
    if (command) {
      out += text.slice(from, open) + lineBreaks(command[1]!, command[2]);
      from = close + 1;
    }
    // sequences pair their escape characters as the unescaping did
    open = text.indexOf(escape, close + 1);
  }
  return out + text.slice(from);
}

function lineBreaks(command: string, n: string | undefined): string {
  switch (command) {
    case 'br':
    case 'ce':
      return '\n';
    case 'sp':
      // a sender's `.sp 5000` is not worth 5,000 blank lines
      return '\n'.repeat(1 + Math.min(MAX_SKIP, Math.max(0, n === undefined ? 1 : Number(n))));
    default:
      return '';
  }
}
