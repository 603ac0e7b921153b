/**
 * The hop to the legacy inbound is the adapter's own: it has taken responsibility for the
 * message and needs legacy's verdict on every one, in order, before the next of the lane goes.
 * A sender's enhanced-mode request (MSH-15/MSH-16) is about the sender's hop, and passed on it
 * breaks this one: under MSH-15 NE or ER (or SU when legacy refuses) legacy answers nothing, the
 * lane waits for an ACK that never comes and holds every later message of its patients; under
 * AL legacy's commit ACK (CA) would be taken for acceptance while its application ACK (maybe AE)
 * came later on another exchange. So the copy legacy gets asks for original mode (MSH-15 and
 * MSH-16 empty), which every HL7 v2 receiver speaks: one AA, AE or AR per message. The stored
 * message keeps the sender's bytes.
 */

import { editHeader } from './header-edit.js';

/** `message` (CR segment ends) with MSH-15 and MSH-16 emptied; the same buffer when they are. */
export function askingOriginalMode(message: Buffer): Buffer {
  return editHeader(message, (fields) => {
    if (!fields[14] && !fields[15]) return false;
    if (fields.length > 14) fields[14] = '';
    if (fields.length > 15) fields[15] = '';
    return true;
  });
}
