/**
 * Whether a message that reuses a stored message's (sending facility, control id) is that
 * message sent again. Senders that rebuild a message to resend it stamp a new MSH-7, and may
 * end segments differently or add a byte-order mark; none of that makes it another message.
 * Any other difference does: a sender that reuses control ids (a counter reset, two
 * applications behind one facility name), whose message must not be taken for a resend and
 * dropped.
 */
export function sameMessage(stored: Buffer, received: Buffer): boolean {
  if (stored.equals(received)) return true;
  const a = comparable(stored);
  const b = comparable(received);
  return a.length === b.length && a.every((segment, i) => segment === b[i]);
}

function comparable(raw: Buffer): string[] {
  const bom = raw[0] === 0xef && raw[1] === 0xbb && raw[2] === 0xbf ? 3 : 0;
  // latin1 keeps every byte as one character: two encodings of one text compare as bytes do
  const segments = raw
    .toString('latin1', bom)
    .split(/\r\n|\r|\n/)
    .filter((s) => s !== '');
  const msh = segments[0];
  if (msh?.startsWith('MSH') && msh.length > 3) {
    const fields = msh.split(msh[3]!);
    // fields[n - 1] is MSH-n
    if (fields.length > 6) fields[6] = '';
    segments[0] = fields.join(msh[3]!);
  }
  return segments;
}
