/**
 * HL7 parity in mode dual: once a message reached both the legacy inbound and the new
 * service's queue, the same records are read from the legacy system's API and from the new
 * service's API (the rule's `parity.lookups`, with field references into the message such as
 * `/api/patients/{PID-3.1}`) and compared with the gateway's comparator. The result is counted
 * under the HL7 rule's id in the parity store the gateway reads, so the flip gate and the
 * dashboard treat HL7 rules as they treat HTTP ones.
 *
 * The new service applies its queue asynchronously, so a difference is read again (`attempts`,
 * `delayMs` apart) before it counts. Only the adapter instance that dispatches sees the
 * deliveries settle, so each message is compared once.
 */
import { createHash } from 'node:crypto';
import { decodeMessage } from '@ficus/hl7-protocol';
import type pg from 'pg';
// undici's own fetch: it takes an undici Agent (https-agents.ts) as its dispatcher
import { fetch, type Dispatcher } from 'undici';
import {
  compareObserved,
  compileCompare,
  FIELD_REFERENCE,
  parseComparedJson,
  redactDiff,
  type Comparison,
  type Hl7Lookup,
  type Hl7Rule,
  type Logger,
  type Observed,
  type ParityRecorder,
  type RuleSet,
} from '@ficus/contracts';
import type { PendingDelivery } from '../delivery/delivery-store.js';

export interface Hl7ParityOptions {
  pool: pg.Pool;
  recorder: ParityRecorder;
  rules: () => RuleSet;
  /** an upstream's base URL (an environment override, or the rules' own) */
  upstreamUrl: (name: string) => string | undefined;
  /** the connections to an https:// upstream with a `tls` of its own (https-agents.ts); undefined: the default */
  dispatcherFor?: (name: string) => Dispatcher | undefined;
  log: Logger;
  /** messages waiting for their second delivery, at most */
  maxTracked?: number;
  fetchTimeoutMs?: number;
}

interface Tracked {
  rule: Hl7Rule;
  targets: Set<string>;
  delivered: Set<string>;
  raw: Buffer;
}

const DEFAULT_DELAY_MS = 1_000;
const DEFAULT_ATTEMPTS = 3;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The lookup path with `{PID-3.1}` and `{MRN}` references replaced by the message's values (URL-encoded); undefined if one is empty. */
export function resolvePath(path: string, get: (field: string) => string): string | undefined {
  let missing = false;
  const out = path.replace(FIELD_REFERENCE, (_m, field: string) => {
    const v = get(field);
    if (!v) missing = true;
    return encodeURIComponent(v);
  });
  FIELD_REFERENCE.lastIndex = 0;
  return missing ? undefined : out;
}

export class Hl7Parity {
  /** per message: its tracking, 'skip' (not compared), or the targets delivered while its rule is being looked up */
  private readonly tracked = new Map<number, Tracked | 'skip' | string[]>();
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly o: Hl7ParityOptions) {}

  private wanted(): boolean {
    return (this.o.rules().hl7 ?? []).some((r) => r.mode === 'dual' && (r.parity?.lookups?.length ?? 0) > 0);
  }

  /** The dispatcher settled one delivery of a message (hooked to its `settled` callback). */
  settled(d: PendingDelivery, outcome: 'delivered' | 'dead'): void {
    if (this.stopped || !this.wanted()) return;
    if (outcome === 'dead') {
      this.tracked.delete(d.messageId);
      return;
    }
    const t = this.tracked.get(d.messageId);
    if (t === 'skip') return;
    if (Array.isArray(t)) {
      t.push(d.target);
      return;
    }
    if (t) {
      this.delivered(d.messageId, t, d.target);
      return;
    }
    this.tracked.set(d.messageId, [d.target]);
    void this.track(d).catch((e: Error) => this.o.log.warn({ err: e.message, messageId: d.messageId }, 'HL7 parity: cannot read the message\'s deliveries'));
  }

  private async track(d: PendingDelivery): Promise<void> {
    const { rows } = await this.o.pool.query<{ rule_id: string; mode: string; target: string }>(
      `SELECT m.rule_id, m.mode, d.target FROM hl7_messages m JOIN hl7_deliveries d ON d.message_id = m.id WHERE m.id = $1`,
      [d.messageId],
    );
    const first = rows[0];
    const rule = first && (this.o.rules().hl7 ?? []).find((r) => r.id === first.rule_id);
    const early = this.tracked.get(d.messageId);
    if (!Array.isArray(early)) return; // evicted meanwhile
    if (!first || first.mode !== 'dual' || !rule?.parity?.lookups?.length || rule.mode !== 'dual') {
      // kept as "not compared" until evicted, so later deliveries of it cost no query
      this.tracked.set(d.messageId, 'skip');
      this.evict();
      return;
    }
    const t: Tracked = { rule, targets: new Set(rows.map((r) => r.target)), delivered: new Set(early), raw: d.raw };
    this.tracked.set(d.messageId, t);
    this.evict();
    this.delivered(d.messageId, t, d.target);
  }

  private evict(): void {
    const max = this.o.maxTracked ?? 10_000;
    while (this.tracked.size > max) {
      const oldest = this.tracked.keys().next().value as number;
      const t = this.tracked.get(oldest);
      this.tracked.delete(oldest);
      if (t && typeof t === 'object' && !Array.isArray(t)) this.o.recorder.skipped(t.rule.id, 'not-tracked');
    }
  }

  private delivered(messageId: number, t: Tracked, target: string): void {
    t.delivered.add(target);
    if (t.delivered.size < t.targets.size) return;
    this.tracked.delete(messageId);
    const p = this.compare(t).catch((e: Error) => this.o.log.warn({ err: e.message, rule: t.rule.id }, 'HL7 parity comparison failed'));
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  private async compare(t: Tracked): Promise<void> {
    const rule = t.rule;
    const parity = rule.parity!;
    const decoded = decodeMessage(t.raw);
    if (!decoded.ok) {
      this.o.recorder.skipped(rule.id, 'undecodable');
      return;
    }
    const message = decoded.message;
    const get = (field: string) => {
      // {MRN}: the MRN as the receivers read it, wherever it stands among PID-3's identifiers
      if (field === 'MRN') return message.patientId?.id ?? '';
      try {
        return message.get(field);
      } catch {
        return '';
      }
    };
    const lookups = parity.lookups!;
    const paths = lookups.map((l) => resolvePath(l.path, get));
    if (paths.some((p) => p === undefined)) {
      this.o.recorder.skipped(rule.id, 'field-missing');
      return;
    }
    const cc = compileCompare(rule.compare);
    const attempts = parity.attempts ?? DEFAULT_ATTEMPTS;
    const delay = parity.delayMs ?? DEFAULT_DELAY_MS;
    let result: { c: Comparison; statuses: [number, number] } | undefined;
    for (let attempt = 1; attempt <= attempts && !this.stopped; attempt++) {
      await sleep(delay);
      if (this.stopped) break;
      const each = await Promise.all(lookups.map((l, i) => this.lookup(l, rule, paths[i]!, cc)));
      const prefix = (i: number, path: string) => (lookups.length > 1 ? `[${i}]${path}` : path);
      const diff = each.flatMap((e, i) => e.c.diff.map((d) => ({ ...d, path: prefix(i, d.path) })));
      const fields = [...new Set(each.flatMap((e, i) => e.c.fields.map((f) => prefix(i, f))))];
      result = { c: { match: diff.length === 0, fields, diff, noise: [] }, statuses: [each[0]!.legacy.status, each[0]!.target.status] };
      if (result.c.match) break;
    }
    if (!result) {
      this.o.recorder.skipped(rule.id, 'stopped');
      return;
    }
    const { c, statuses } = result;
    const rate = rule.compare?.sampleRate ?? 0.1;
    const keep = !c.match && Math.random() < rate;
    this.o.recorder.record(
      rule.id,
      c,
      keep
        ? () => ({
            rule: rule.id,
            method: 'GET',
            route: lookups.map((l) => l.path).join(' '),
            legacyStatus: statuses[0] || undefined,
            targetStatus: statuses[1] || undefined,
            fields: c.fields,
            diff: redactDiff(c.diff, rule.compare?.keepValues === true),
            redacted: rule.compare?.keepValues !== true,
          })
        : undefined,
      // the records read are the key: the gate's breadth counts patients, not messages
      { target: rule.target ?? lookups[0]!.target ?? 'none', key: paths.join('\u0000') },
    );
  }

  private async lookup(l: Hl7Lookup, rule: Hl7Rule, path: string, cc: ReturnType<typeof compileCompare>) {
    const legacy = await this.read(l.legacy ?? 'legacy', path, cc.headers);
    const target = await this.read(l.target ?? rule.target!, path, cc.headers);
    return { legacy, target, c: compareObserved(legacy, target, cc) };
  }

  private async read(upstream: string, path: string, headers: string[]): Promise<Observed> {
    const base = this.o.upstreamUrl(upstream);
    if (!base) return { status: 0, error: 'unknown-upstream', headers: {}, body: { kind: 'none' } };
    try {
      const dispatcher = this.o.dispatcherFor?.(upstream);
      const res = await fetch(new URL(path, base), { headers: { 'x-ficus-parity': '1' }, signal: AbortSignal.timeout(this.o.fetchTimeoutMs ?? 5_000), ...(dispatcher ? { dispatcher } : {}) });
      const bytes = Buffer.from(await res.arrayBuffer());
      const picked = Object.fromEntries(headers.map((h) => [h, res.headers.get(h) ?? undefined]));
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const type = res.headers.get('content-type') ?? '';
      if (bytes.length === 0) return { status: res.status, headers: picked, body: { kind: 'none' } };
      if (/[/+]json\b/i.test(type)) {
        try {
          return { status: res.status, headers: picked, body: { kind: 'json', value: parseComparedJson(bytes.toString('utf8')), sha256 } };
        } catch {
          /* by digest */
        }
      }
      return { status: res.status, headers: picked, body: { kind: 'bytes', sha256, bytes: bytes.length } };
    } catch (e) {
      const err = e as Error;
      return { status: 0, error: err.name === 'TimeoutError' ? 'timeout' : 'unreachable', headers: {}, body: { kind: 'none' } };
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
  }
}
