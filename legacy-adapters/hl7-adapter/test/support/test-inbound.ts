/**
 * A legacy HL7 inbound for tests: a real MLLP server that records what it receives (in order),
 * answers AA (or what a test tells it), recognises resends by (facility, control id) as an
 * interface engine does, and can be stopped and started on the same port.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { buildAck, decodeMessage, encodeFrame, MllpDecoder, type Hl7Error, type Hl7Message } from '@ficus/hl7-protocol';

export interface Received {
  controlId: string;
  facility: string;
  patient: string;
  type: string;
  trigger: string;
  /** PV1-19 of the synthetic messages: the sender's sequence number */
  seq: string;
  /** MSH-15 and MSH-16 as received */
  ackTypes: [string, string];
  /** PID-5.1, decoded by the charset MSH-18 names, as a receiver reads it */
  lastName: string;
}

/** What an enhanced-mode receiver sends at once, by MSH-15: a commit ACK, or nothing. */
function commitAnswer(acceptAckType: string, outcome: 'AA' | 'AE' | 'AR'): 'CA' | 'CE' | 'CR' | undefined {
  const code = outcome === 'AA' ? 'CA' : outcome === 'AE' ? 'CE' : 'CR';
  if (acceptAckType === 'NE') return undefined;
  if (acceptAckType === 'ER') return outcome === 'AA' ? undefined : code;
  if (acceptAckType === 'SU') return outcome === 'AA' ? code : undefined;
  return code;
}

export class TestInbound {
  readonly received: Received[] = [];
  /** every frame, resends included */
  frames = 0;
  /** the bytes of every frame, as received, resends included */
  readonly payloads: Buffer[] = [];
  private readonly applied = new Set<string>();
  /** the answer to a message not applied before; 'none' sends nothing (an inbound that hangs on it) */
  answer: (m: Hl7Message) => 'AA' | 'AE' | 'AR' | 'none' = () => 'AA';
  /** the ERR of a refusal (AE, AR), as a receiver names what is wrong; none by default */
  refusal: (m: Hl7Message) => Hl7Error | undefined = () => undefined;
  /** answer a message with MSH-15 valued as an enhanced-mode receiver does: a commit ACK as MSH-15 asks, or nothing */
  enhanced = false;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async start(): Promise<void> {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      const decoder = new MllpDecoder();
      socket.on('data', (chunk: Buffer) => {
        for (const e of decoder.push(chunk)) {
          if (e.type !== 'frame') continue;
          this.frames++;
          this.payloads.push(e.payload);
          const d = decodeMessage(e.payload);
          if (!d.ok) {
            socket.write(encodeFrame(buildAck(d.received, 'AR', { error: d.error }).bytes));
            continue;
          }
          const m = d.message;
          const key = `${m.header.sendingFacility.namespaceId}|${m.header.controlId}`;
          const code = this.applied.has(key) ? 'AA' : this.answer(m);
          if (code === 'none') continue;
          if (code === 'AA' && !this.applied.has(key)) {
            this.applied.add(key);
            this.received.push({ controlId: m.header.controlId, facility: m.header.sendingFacility.namespaceId, patient: m.patientId?.id ?? '', type: m.header.messageType, trigger: m.header.triggerEvent, seq: m.get('PV1-19'), ackTypes: [m.get('MSH-15'), m.get('MSH-16')], lastName: m.get('PID-5.1') });
          }
          if (this.enhanced && m.get('MSH-15') !== '') {
            const commit = commitAnswer(m.get('MSH-15'), code);
            if (commit) socket.write(encodeFrame(buildAck(m, commit).bytes));
            continue;
          }
          const error = code === 'AA' ? undefined : this.refusal(m);
          socket.write(encodeFrame(buildAck(m, code, error ? { error } : {}).bytes));
        }
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', () => resolve()));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  get url(): string {
    return `mllp://127.0.0.1:${this.port}`;
  }
}
