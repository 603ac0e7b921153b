/**
 * Queries (QRY^A19, QBP^Q22…) passed through to the legacy inbound while the sender waits, and
 * its answer (ADR, RSP… with the data) given back byte for byte. A query is not stored and not
 * delivered later: an answer that comes after the sender gave up is worth nothing, and asking
 * twice does no harm. So no answer in time, or no connection, is an AE for the sender to retry.
 * The legacy inbound answers what it knows when it is asked: a message stored by the adapter but
 * not yet delivered to it is not in its answer.
 *
 * The exchange with legacy is original mode, whatever the sender's MSH-15/MSH-16 asked for its
 * own hop: the answer awaited is the first frame back on the connection, and HL7 v2.5 (chapter
 * 2's processing rules) has a receiver answer at once with the response (the data) only in
 * original mode, both fields empty. With MSH-15 valued it is enhanced mode: an accept ACK at once (CA under AL, nothing under NE,
 * and under ER/SU as the outcome falls) and the application response later, as a message
 * legacy sends of its own accord, which nobody here would take. Passed on as sent, a sender's
 * AL/AL query got legacy's CA and no data, and an NE or ER one no answer from legacy in time. So the copy
 * legacy gets has MSH-15 and MSH-16 emptied, and is made as a delivered message's copy is
 * (legacy-copy.ts): byte for byte when it starts with MSH and its segments end in CR; a UTF-8 byte
 * order mark in front (kept by the intake, as it names the charset) is dropped and MSH-18 names
 * UTF-8 instead. (Until 2026-12-07 the mark hid MSH from the header edit: such a query reached
 * legacy with the mark and with MSH-15/MSH-16 as sent.)
 * The answer is given to the sender on its connection.
 */
import { hl7Error, type Hl7Error } from '@ficus/hl7-protocol';
import type { UpstreamTlsMaterial } from '@ficus/contracts';
import { legacyCopy } from '../delivery/legacy-copy.js';
import { MllpClient } from '../delivery/mllp-client.js';

export type QueryOutcome = { kind: 'answered'; code: string; payload: Buffer } | { kind: 'failed'; error: Hl7Error };

export interface QueryRelayOptions {
  /** the MLLP address of a legacy upstream (rules name it; environment may override) */
  legacyUrl: (upstream: string) => string | undefined;
  /** an mllps:// legacy inbound's TLS settings, from the current rules */
  legacyTls?: (upstream: string) => UpstreamTlsMaterial | undefined;
  connectTimeoutMs: number;
  answerTimeoutMs: number;
  /** connections kept per legacy inbound; more queries at once wait for one */
  connectionsPerUpstream?: number;
}

/** A few connections to one legacy inbound, each carrying one query at a time. */
class Connections {
  private idle: MllpClient[] = [];
  private open = 0;
  private waiting: Array<(c: MllpClient) => void> = [];

  constructor(
    private readonly make: () => MllpClient,
    private readonly max: number,
  ) {}

  async use<T>(work: (c: MllpClient) => Promise<T>): Promise<T> {
    const client = await this.take();
    let healthy = true;
    try {
      return await work(client);
    } catch (e) {
      healthy = false;
      throw e;
    } finally {
      this.give(client, healthy);
    }
  }

  private take(): Promise<MllpClient> {
    const idle = this.idle.pop();
    if (idle) return Promise.resolve(idle);
    if (this.open < this.max) {
      this.open++;
      return Promise.resolve(this.make());
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private give(client: MllpClient, healthy: boolean): void {
    // a connection that failed or timed out may still carry a late answer: not reused
    if (!healthy) {
      client.close();
      client = this.make();
    }
    const next = this.waiting.shift();
    if (next) next(client);
    else this.idle.push(client);
  }

  close(): void {
    for (const c of this.idle) c.close();
    this.idle = [];
  }
}

export class QueryRelay {
  private readonly upstreams = new Map<string, { url: string; connections: Connections }>();

  constructor(private readonly o: QueryRelayOptions) {}

  async ask(upstream: string, message: Buffer, controlId: string): Promise<QueryOutcome> {
    const url = this.o.legacyUrl(upstream);
    if (!url) return { kind: 'failed', error: hl7Error(207, `the legacy inbound "${upstream}" has no address; the query cannot be answered`) };
    let entry = this.upstreams.get(upstream);
    const tls = this.o.legacyTls?.(upstream);
    const where = `${url}#${tls?.fingerprint ?? ''}`;
    if (!entry || entry.url !== where) {
      entry?.connections.close();
      const target = new URL(url);
      entry = { url: where, connections: new Connections(() => new MllpClient(target, { connectMs: this.o.connectTimeoutMs, ackMs: this.o.answerTimeoutMs }, tls), this.o.connectionsPerUpstream ?? 4) };
      this.upstreams.set(upstream, entry);
    }
    try {
      const answer = await entry.connections.use((c) => c.send(legacyCopy(message), controlId));
      return { kind: 'answered', code: answer.code, payload: answer.payload };
    } catch (e) {
      return { kind: 'failed', error: hl7Error(207, `the legacy system did not answer the query (${(e as Error).message}); send it again`) };
    }
  }

  close(): void {
    for (const { connections } of this.upstreams.values()) connections.close();
    this.upstreams.clear();
  }
}
