// A legacy HL7 inbound stand-in for benchmarks: answers every message AA at once, stores nothing.
import { createServer } from 'node:net';
import { buildAck, decodeMessage, encodeFrame, MllpDecoder } from '@ficus/hl7-protocol';

createServer((socket) => {
  const decoder = new MllpDecoder();
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    for (const e of decoder.push(chunk)) {
      if (e.type !== 'frame') continue;
      const d = decodeMessage(e.payload);
      socket.write(encodeFrame(buildAck(d.ok ? d.message : d.received, d.ok ? 'AA' : 'AR').bytes));
    }
  });
}).listen(Number(process.env.PORT), '127.0.0.1');
