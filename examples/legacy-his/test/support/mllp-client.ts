/**
 * A tiny MLLP client for the tests: frames out with encodeFrame, frames in with MllpDecoder,
 * over a real TCP connection, and the ACKs read back with decodeMessage.
 */
import net from 'node:net';
import { decodeMessage, encodeFrame, MllpDecoder, type Hl7Message } from '@ficus/hl7-protocol';
import { sampleBytes } from '../../../../test-support/hl7-samples.js';

export class MllpClient {
  private readonly decoder = new MllpDecoder();
  private readonly frames: Buffer[] = [];
  private waiting: ((frame: Buffer | undefined) => void) | undefined;
  private ended = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const e of this.decoder.push(chunk)) if (e.type === 'frame') this.deliver(e.payload);
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.ended = true;
        this.waiting?.(undefined);
        this.waiting = undefined;
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, host = '127.0.0.1'): Promise<MllpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host }, () => {
        socket.off('error', reject);
        resolve(new MllpClient(socket));
      });
      socket.once('error', reject);
    });
  }

  private deliver(frame: Buffer) {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w(frame);
    } else this.frames.push(frame);
  }

  /** writes one framed message */
  send(message: string | Buffer): void {
    this.socket.write(encodeFrame(message));
  }

  /** writes bytes as they are (several frames, garbage, half a frame…) */
  sendRaw(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** the next frame received; rejects after `timeoutMs` or when the connection closes first */
  next(timeoutMs = 15_000): Promise<Buffer> {
    const queued = this.frames.shift();
    if (queued) return Promise.resolve(queued);
    if (this.ended) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = (frame) => {
        clearTimeout(timer);
        if (frame) resolve(frame);
        else reject(new Error('connection closed'));
      };
    });
  }

  async nextAck(timeoutMs?: number): Promise<Ack> {
    return readAck(await this.next(timeoutMs));
  }

  /** sends one message and reads the ACK that answers it */
  async request(message: string | Buffer): Promise<Ack> {
    this.send(message);
    return this.nextAck();
  }

  /** frames received and not yet read */
  get buffered(): number {
    return this.frames.length;
  }

  close(): void {
    this.socket.end();
  }
}

export interface Ack {
  message: Hl7Message;
  /** MSH-10 of the ACK */
  controlId: string;
  /** MSA-1 */
  code: string;
  /** MSA-2 */
  acked: string;
  /** ERR-3.1 of each ERR segment */
  errorCodes: string[];
  /** ERR-2 of the first ERR, e.g. PID^1^3^1^1 */
  errorLocation: string;
}

export function readAck(frame: Buffer): Ack {
  const r = decodeMessage(frame);
  if (!r.ok) throw new Error(`the answer is not a valid HL7 message: ${r.error.message}`);
  const m = r.message;
  const errorCodes: string[] = [];
  for (let i = 1; i <= m.count('ERR'); i++) errorCodes.push(m.get(`ERR[${i}]-3.1`));
  const location = [1, 2, 3, 4, 5].map((c) => m.get(`ERR-2.${c}`));
  while (location.length > 0 && location[location.length - 1] === '') location.pop();
  return {
    message: m,
    controlId: m.header.controlId,
    code: m.get('MSA-1'),
    acked: m.get('MSA-2'),
    errorCodes,
    errorLocation: location.join('^'),
  };
}

/** a public sample message, as text (segments ended by CR, as in the file) */
export function sample(name: string): string {
  return sampleBytes(`${name}.hl7`).toString('utf8');
}

let counter = 0;
/** a control id no other message of the test run has */
export function uniqueControlId(prefix = 'T'): string {
  counter++;
  return `${prefix}${Date.now().toString(36)}${counter}`.toUpperCase().slice(0, 20);
}

/** a message from its segments, each ended by CR */
export function hl7(...segments: string[]): string {
  return segments.map((s) => s + '\r').join('');
}

export interface MshOptions {
  facility?: string;
  application?: string;
  /** MSH-15: empty for original mode, AL/NE/ER/SU for enhanced mode */
  acceptAck?: string;
  version?: string;
  time?: string;
}

export function msh(type: string, controlId: string, o: MshOptions = {}): string {
  const fields = [
    'MSH',
    '^~\\&',
    o.application ?? 'REGADT',
    o.facility ?? 'GENHOSP',
    'LEGACYHIS',
    'GENHOSP',
    o.time ?? '20240701083000',
    '',
    type,
    controlId,
    'P',
    o.version ?? '2.5.1',
    '',
    '',
    o.acceptAck ?? '',
  ];
  while (fields[fields.length - 1] === '') fields.pop();
  return fields.join('|');
}

/** a segment from its fields by number: segment('PV1', { 2: 'I', 19: 'V1' }) is PV1||I|…|V1 */
export function segment(id: string, fields: Record<number, string>): string {
  const last = Math.max(0, ...Object.keys(fields).map(Number));
  const values = Array.from({ length: last }, (_, i) => fields[i + 1] ?? '');
  return [id, ...values].join('|');
}
