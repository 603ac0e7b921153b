/**
 * Reading an acknowledgement quickly: a sender waits for thousands of them a second, and needs
 * only MSA-1, MSA-2 and why (MSA-3, ERR-8, ERR-3.2). Values are unescaped; anything that is
 * not a well-formed ACK reads as undefined (the caller then decodes it fully, or gives up).
 */
import { readDelimiters, type Hl7Delimiters } from './delimiters.js';
import { splitSegments } from './segments.js';

export interface AckFields {
  code: string;
  controlId: string;
  text: string;
}

function unescape(value: string, d: Hl7Delimiters): string {
  if (!value.includes(d.escape)) return value;
  const e = d.escape;
  return value.replace(new RegExp(`\\${e}([FSTRE]|X[0-9A-Fa-f]+)\\${e}`, 'g'), (_m, code: string) => {
    switch (code) {
      case 'F':
        return d.field;
      case 'S':
        return d.component;
      case 'T':
        return d.subcomponent;
      case 'R':
        return d.repetition;
      case 'E':
        return d.escape;
      default:
        return String.fromCharCode(...(code.slice(1).match(/../g) ?? []).map((h) => parseInt(h, 16)));
    }
  });
}

export function readAck(frame: Uint8Array): AckFields | undefined {
  const text = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString('latin1');
  const segments = splitSegments(text.charCodeAt(0) === 0xef ? text.slice(3) : text);
  const msh = segments[0];
  if (!msh?.startsWith('MSH')) return undefined;
  const delimiters = readDelimiters(msh);
  if (!delimiters.ok) return undefined;
  const d = delimiters.delimiters;
  const field = (segment: string | undefined, n: number) => (segment === undefined ? '' : (segment.split(d.field)[n] ?? ''));
  const msa = segments.find((s) => s.startsWith(`MSA${d.field}`));
  if (!msa) return undefined;
  const err = segments.find((s) => s.startsWith(`ERR${d.field}`));
  const code = unescape(field(msa, 1), d).trim();
  if (!/^(AA|AE|AR|CA|CE|CR)$/.test(code)) return undefined;
  const why = [field(msa, 3), field(err, 8), (field(err, 3).split(d.component)[1] ?? '')].map((v) => unescape(v, d)).filter(Boolean);
  return { code, controlId: unescape(field(msa, 2), d), text: why.join('; ') };
}
