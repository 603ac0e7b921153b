/**
 * A PostgreSQL replication connection (the walsender protocol) on node-postgres's Client:
 * replication commands, then the CopyBoth stream of START_REPLICATION, with standby status
 * updates sent by us, when we choose, and reading paused and resumed at the socket.
 *
 * Why not pg-logical-replication (2.5.0): it acknowledges by itself unless told not to, and
 * even then its timer acknowledges the last LSN it *received* (keepalives included) unless
 * `timeoutSeconds: 0`; it adds 1 to the LSN it is given, which for a commit's end LSN can skip
 * the next transaction after a restart (the next commit record may start exactly there); its
 * status updates carry a wrong clock (epoch off by a week, milliseconds for microseconds); its
 * only back-pressure awaits every message one by one; and its pgoutput parser turns values
 * into JavaScript objects with node-postgres's type parsers (timestamps become Dates in the
 * reader's zone), where the envelope wants the source's own text. The protocol is small
 * enough to speak directly; see the README.
 */
import pg from 'pg';
import { dateToPgTime, formatLsn } from './pgoutput.js';
import { SESSION_OPTIONS } from './values.js';

/** the server's clock in the protocol counts microseconds from 2000-01-01 UTC */
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);

export interface StreamHandlers {
  /** an XLogData message: its WAL start, the server's WAL end, and the pgoutput payload */
  data(walStart: bigint, walEnd: bigint, payload: Buffer): void;
  /** a primary keepalive: the server's WAL end, whether it wants an answer now, and when the server sent it (its clock, ms) */
  keepalive(walEnd: bigint, replyRequested: boolean, sentAtMs: number): void;
}

interface RawConnection {
  on(event: 'copyData', fn: (msg: { chunk: Buffer }) => void): void;
  removeAllListeners(event: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  stream: { pause(): void; resume(): void; isPaused(): boolean };
}

export class ReplicationConnection {
  private readonly client: pg.Client;
  private connected = false;
  private ended = false;

  constructor(databaseUrl: string) {
    this.client = new pg.Client({ connectionString: databaseUrl, replication: 'database', options: SESSION_OPTIONS } as pg.ClientConfig);
  }

  private get raw(): RawConnection {
    return (this.client as unknown as { connection: RawConnection }).connection;
  }

  async connect(onError: (err: Error) => void): Promise<void> {
    this.client.on('error', onError);
    this.client.on('end', () => {
      if (!this.ended) onError(new Error('the replication connection was closed'));
    });
    await this.client.connect();
    this.connected = true;
  }

  /** A replication command (simple query protocol). */
  async command<R extends Record<string, unknown>>(sql: string): Promise<R[]> {
    const res = await this.client.query<R>(sql);
    return res.rows;
  }

  /**
   * Starts streaming; resolves when the stream ends (the server or we closed it), rejects on
   * an error of the server (a slot in use, an unknown publication).
   */
  stream(slot: string, startLsn: bigint, publication: string, h: StreamHandlers): Promise<void> {
    this.raw.on('copyData', ({ chunk }) => {
      const kind = chunk[0];
      if (kind === 0x77 /* w */) {
        h.data(chunk.readBigUInt64BE(1), chunk.readBigUInt64BE(9), chunk.subarray(25));
      } else if (kind === 0x6b /* k */) {
        h.keepalive(chunk.readBigUInt64BE(1), chunk[17] === 1, PG_EPOCH_MS + Number(chunk.readBigInt64BE(9) / 1000n));
      }
    });
    const sql = `START_REPLICATION SLOT ${quoteIdent(slot)} LOGICAL ${formatLsn(startLsn)} (proto_version '1', publication_names ${quoteLiteral(publication)}, messages 'true')`;
    return this.client.query(sql).then(() => undefined);
  }

  /**
   * Standby status update: `flushed` is what the slot may forget (the server keeps everything
   * from there on and sends it again after a reconnect).
   */
  sendStatus(written: bigint, flushed: bigint, replyRequested = false): void {
    if (this.ended) return;
    const b = Buffer.alloc(34);
    b[0] = 0x72; // r
    b.writeBigUInt64BE(written, 1);
    b.writeBigUInt64BE(flushed, 9);
    b.writeBigUInt64BE(flushed, 17);
    b.writeBigInt64BE(dateToPgTime(Date.now()), 25);
    b[33] = replyRequested ? 1 : 0;
    this.raw.sendCopyFromChunk(b);
  }

  pause(): void {
    this.raw.stream.pause();
  }

  resume(): void {
    this.raw.stream.resume();
  }

  async close(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (!this.connected) return;
    this.raw.stream.resume();
    await Promise.race([this.client.end().catch(() => undefined), new Promise((r) => setTimeout(r, 2_000))]);
  }
}

export const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;
export const quoteLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;
