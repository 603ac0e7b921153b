/**
 * A sending system for tests: a real MLLP connection that sends frames and reads the answers,
 * each decoded.
 */
import { connect, type Socket } from 'node:net';
import { decodeMessage, encodeFrame, MllpDecoder, type Hl7Message } from '@ficus/hl7-protocol';

export class MllpTestClient {
  private readonly decoder = new MllpDecoder();
  private readonly answers: Hl7Message[] = [];
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const e of this.decoder.push(chunk)) {
        if (e.type !== 'frame') continue;
        const d = decodeMessage(e.payload);
        if (d.ok) this.answers.push(d.message);
      }
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('error', () => undefined);
  }

  static open(port: number, host = '127.0.0.1'): Promise<MllpTestClient> {
    return new Promise((resolve, reject) => {
      const s = connect(port, host, () => resolve(new MllpTestClient(s)));
      s.once('error', reject);
    });
  }

  write(bytes: Buffer | string): void {
    this.socket.write(bytes);
  }

  /** Sends one message (framed) and resolves with the next answer. */
  async send(message: Buffer | string, timeoutMs = 10_000): Promise<Hl7Message> {
    this.write(encodeFrame(message));
    return this.next(timeoutMs);
  }

  /** The next answer received (or already waiting). */
  async next(timeoutMs = 10_000): Promise<Hl7Message> {
    const end = Date.now() + timeoutMs;
    while (this.answers.length === 0) {
      if (this.closed) throw new Error('the connection closed');
      const left = end - Date.now();
      if (left <= 0) throw new Error('no answer in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.answers.shift()!;
  }

  /** The first answer (received or to come) that `test` accepts; others stay for later. */
  async waitFor(test: (m: Hl7Message) => boolean, timeoutMs = 10_000): Promise<Hl7Message> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.answers.findIndex(test);
      if (i >= 0) return this.answers.splice(i, 1)[0]!;
      if (this.closed) throw new Error('the connection closed');
      const left = end - Date.now();
      if (left <= 0) throw new Error('no such answer in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  pending(): number {
    return this.answers.length;
  }

  close(): void {
    this.socket.end();
  }
}

/** A synthetic message of the given type, with a control id and patient of its own. */
export function syntheticMessage(o: { controlId: string; mrn: string; type?: string; trigger?: string; facility?: string; seq?: number; lastName?: string; msh15?: string; msh16?: string }): string {
  const type = o.type ?? 'ADT';
  const trigger = o.trigger ?? 'A08';
  const segs = [
    `MSH|^~\\&|REGSYS|${o.facility ?? 'GENHOSP'}|HIS|GENHOSP|20240701083000||${type}^${trigger}^${type}_${trigger === 'R01' ? 'R01' : 'A01'}|${o.controlId}|P|2.5|||${o.msh15 ?? ''}|${o.msh16 ?? ''}`,
    `EVN|${trigger}|20240701083000`,
    `PID|1||${o.mrn}^^^GENHOSP^MR||${o.lastName ?? 'TESTPATIENT'}^SYNTH^Q||19700101|F|||1 TEST ST^^SPRINGFIELD^IL^62701`,
    `PV1|1|I|MED1^101^A^GENHOSP||||D12345^DOC^TEST|||||||||||V${o.seq ?? 0}`,
  ];
  return segs.join('\r') + '\r';
}
