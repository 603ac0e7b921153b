/** MLLP (HL7 v2 Minimal Lower Layer Protocol): <VT> payload <FS><CR>. */

export const START_BLOCK = 0x0b;
export const END_BLOCK = 0x1c;
export const CARRIAGE_RETURN = 0x0d;

/**
 * Frames a payload. A string is written as UTF-8; text in another charset is first encoded with
 * `encodeMessageBytes`. A payload holding 0x0B or 0x1C would be cut apart by the receiver, so it
 * throws a RangeError instead of sending something that cannot arrive whole.
 */
export function encodeFrame(payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (body.includes(START_BLOCK) || body.includes(END_BLOCK)) {
    throw new RangeError('an MLLP payload cannot contain 0x0B (start block) or 0x1C (end block)');
  }
  const frame = Buffer.allocUnsafe(body.length + 3);
  frame[0] = START_BLOCK;
  body.copy(frame, 1);
  frame[body.length + 1] = END_BLOCK;
  frame[body.length + 2] = CARRIAGE_RETURN;
  return frame;
}
