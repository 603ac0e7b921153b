// A legacy HL7 inbound stand-in for benchmarks: answers every message AA at once and stores
// nothing. It reads only what an ACK echoes (MSH-3 to -6, -10, -12, straight from the MSH
// segment, as written): in the real world legacy runs on its own machine, so here it should
// cost the shared CPUs as little as it can.
import { createServer } from 'node:net';
import { encodeFrame, MllpDecoder } from '@ficus/hl7-protocol';

function ack(payload: Buffer): Buffer {
  const text = payload.toString('latin1');
  const end = text.search(/[\r\n]/);
  const msh = end === -1 ? text : text.slice(0, end);
  const sep = msh.charAt(3) || '|';
  const f = msh.split(sep);
  const enc = f[1] ?? '^~\\&';
  const now = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const code = msh.startsWith('MSH') ? 'AA' : 'AR';
  const fields = ['MSH', enc, f[4] ?? '', f[5] ?? '', f[2] ?? '', f[3] ?? '', now, '', 'ACK', `A${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`, 'P', f[11] || '2.5'];
  return Buffer.from(`${fields.join(sep)}\rMSA${sep}${code}${sep}${f[9] ?? ''}\r`, 'latin1');
}

createServer((socket) => {
  const decoder = new MllpDecoder();
  socket.setNoDelay(true);
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    const out: Buffer[] = [];
    for (const e of decoder.push(chunk)) if (e.type === 'frame') out.push(encodeFrame(ack(e.payload)));
    if (out.length > 0) socket.write(Buffer.concat(out));
  });
}).listen(Number(process.env.PORT), '127.0.0.1');
