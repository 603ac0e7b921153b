/**
 * A sending MLLP connection to the legacy inbound: one message at a time, answered by an ACK
 * whose MSA-2 names it. An ACK naming something else (a late answer to a message that timed
 * out) is skipped, never taken as this message's answer.
 */
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { UpstreamTlsMaterial } from '@ficus/contracts';
import { encodeFrame, MllpDecoder, readAck, type Hl7ErrorLocation } from '@ficus/hl7-protocol';

export interface AckAnswer {
  /** MSA-1: AA, AE, AR (or CA, CE, CR) */
  code: string;
  /** MSA-3 and ERR-8, when given: why */
  text: string;
  /** the error code of each ERR (ERR-3.1, or ERR-1's before v2.5): whether a refusal is temporary depends on them */
  errorCodes: string[];
  /** where the first error is (ERR-2, or ERR-1 before v2.5), when the answer says */
  location?: Hl7ErrorLocation;
  /** the whole answer as received (a query's answer carries its data) */
  payload: Buffer;
}

export class DeliveryTimeoutError extends Error {}

export class MllpClient {
  private socket: Socket | undefined;
  private decoder = new MllpDecoder();
  private waiting: { controlId: string; resolve: (a: AckAnswer) => void; reject: (e: Error) => void } | undefined;

  constructor(
    private readonly url: URL,
    private readonly timeouts: { connectMs: number; ackMs: number },
    /** an mllps:// inbound's CA, client certificate and server name (the rules' `tls`, read when they were applied) */
    private readonly tls?: UpstreamTlsMaterial,
  ) {}

  /** An mllps:// connection: the upstream's certificate always verified, against the rules' CA when given. */
  private secureConnect(host: string, port: number): Socket {
    const t = this.tls;
    const servername = t?.servername ?? (isIP(host) ? undefined : host);
    return tlsConnect({
      host,
      port,
      // an IP is sent no SNI (RFC 6066); the certificate is checked against it
      ...(servername ? { servername } : {}),
      ...(t?.ca ? { ca: t.ca } : {}),
      ...(t?.cert ? { cert: t.cert } : {}),
      ...(t?.key ? { key: t.key } : {}),
      ...(t?.passphrase !== undefined ? { passphrase: t.passphrase } : {}),
      rejectUnauthorized: true,
    });
  }

  private connect(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const port = Number(this.url.port || 2575);
      const host = this.url.hostname;
      const socket = this.url.protocol === 'mllps:' ? this.secureConnect(host, port) : tcpConnect({ host, port });
      const timer = setTimeout(() => socket.destroy(new DeliveryTimeoutError(`no connection to ${this.url.host} within ${this.timeouts.connectMs} ms`)), this.timeouts.connectMs);
      socket.once(this.url.protocol === 'mllps:' ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        this.decoder = new MllpDecoder();
        this.socket = socket;
        resolve(socket);
      });
      // events of a connection given up on (a timeout, a reconnect) must not touch the next one
      socket.on('data', (chunk: Buffer) => {
        if (this.socket === socket) this.received(chunk);
      });
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
        if (this.socket === socket) this.fail(err);
      });
      socket.on('close', () => {
        clearTimeout(timer);
        reject(new Error(`the legacy inbound ${this.url.host} closed the connection`));
        if (this.socket === socket) this.fail(new Error(`the legacy inbound ${this.url.host} closed the connection`));
      });
    });
  }

  private received(chunk: Buffer): void {
    for (const e of this.decoder.push(chunk)) {
      if (e.type !== 'frame' || !this.waiting) continue;
      const ack = readAck(e.payload);
      if (!ack || ack.controlId !== this.waiting.controlId) continue; // not an ACK, or a late answer to an earlier try
      const w = this.waiting;
      this.waiting = undefined;
      w.resolve({ code: ack.code, text: ack.text, errorCodes: ack.errorCodes, ...(ack.location ? { location: ack.location } : {}), payload: e.payload });
    }
  }

  private fail(err: Error): void {
    this.socket?.destroy();
    this.socket = undefined;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(err);
  }

  /** Sends one message and resolves with its ACK; rejects on timeout or a lost connection. */
  async send(message: Buffer, controlId: string): Promise<AckAnswer> {
    const socket = await this.connect();
    return new Promise<AckAnswer>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new DeliveryTimeoutError(`no ACK from ${this.url.host} within ${this.timeouts.ackMs} ms`)), this.timeouts.ackMs);
      this.waiting = {
        controlId,
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      socket.write(encodeFrame(message));
    });
  }

  close(): void {
    this.socket?.end();
    this.socket = undefined;
  }
}
