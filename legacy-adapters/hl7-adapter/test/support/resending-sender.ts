/**
 * A sending system as interface engines behave: one kept-open connection, messages sent in
 * order with a few unacknowledged at a time, each ACK checked against the message it answers
 * (MSA-2), and, when the connection dies, a new one that sends again everything not yet
 * acknowledged, in the same order. Used where the adapter is killed under it.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeFrame, MllpDecoder, readAck } from '@ficus/hl7-protocol';

export interface Outgoing {
  controlId: string;
  bytes: Buffer;
}

export class ResendingSender {
  /** messages acknowledged positively, in order: the next one to send again starts here */
  acked = 0;
  /** connections opened (the first and every reconnect) */
  connections = 0;
  /** frames written, resends included */
  written = 0;
  /** an ACK that did not answer the message it had to (wrong MSA-2, or not AA): the test fails on it */
  problems: string[] = [];
  private stopped = false;

  constructor(
    private readonly port: number,
    private readonly messages: Outgoing[],
    private readonly window = 10,
  ) {}

  get done(): boolean {
    return this.acked >= this.messages.length;
  }

  stop(): void {
    this.stopped = true;
  }

  /** Resolves when every message is acknowledged (or stop() was called). */
  async run(): Promise<void> {
    while (!this.done && !this.stopped) {
      const socket = await this.open();
      if (!socket) {
        await sleep(50);
        continue;
      }
      this.connections++;
      await this.session(socket);
    }
  }

  private open(): Promise<Socket | undefined> {
    return new Promise((resolve) => {
      const s = connect(this.port, '127.0.0.1', () => {
        s.setNoDelay(true);
        resolve(s);
      });
      s.once('error', () => resolve(undefined));
    });
  }

  /** Sends from the first unacknowledged message until everything is acknowledged or the connection dies. */
  private session(socket: Socket): Promise<void> {
    return new Promise((resolve) => {
      const decoder = new MllpDecoder();
      let sent = this.acked;
      const fill = () => {
        const frames: Buffer[] = [];
        while (sent < this.messages.length && sent - this.acked < this.window) frames.push(encodeFrame(this.messages[sent++]!.bytes));
        if (frames.length > 0) {
          this.written += frames.length;
          socket.write(Buffer.concat(frames));
        }
      };
      socket.on('data', (chunk: Buffer) => {
        for (const e of decoder.push(chunk)) {
          if (e.type !== 'frame') continue;
          const ack = readAck(e.payload);
          const expected = this.messages[this.acked];
          if (!ack || !expected || ack.controlId !== expected.controlId || ack.code !== 'AA') {
            this.problems.push(`expected AA for ${expected?.controlId ?? '(none)'}, got ${ack ? `${ack.code} for ${ack.controlId}` : 'no ACK'}`);
            socket.destroy();
            return;
          }
          this.acked++;
        }
        if (this.done || this.stopped) socket.end();
        else fill();
      });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve());
      fill();
    });
  }
}
