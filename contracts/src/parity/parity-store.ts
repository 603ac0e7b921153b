/**
 * Parity and traffic figures in the gateway database (`ficus_gateway`, migrations/gateway):
 * written in batches by every instance that counts (gateway instances, the HL7 adapter),
 * read by the admin API as sums over a window of minutes and since the beginning.
 */
import type pg from 'pg';
import type { DiffEntry } from './compare.js';
import { withTransaction } from '../postgres/transaction.js';
import { ParityKeys, type KeyFigures, type KeySeen } from './parity-keys.js';

/** Counts of one rule in one minute, as an instance accumulated them. */
export interface ParityBucket {
  rule: string;
  /** start of the minute, ms since the epoch */
  minute: number;
  compared: number;
  mismatches: number;
  skipped: number;
  fields: Map<string, number>;
}

export interface ParitySample {
  rule: string;
  method?: string | undefined;
  route?: string | undefined;
  legacyStatus?: number | undefined;
  targetStatus?: number | undefined;
  fields: string[];
  diff: DiffEntry[];
  redacted: boolean;
  requestId?: string | undefined;
}

export interface TrafficBucket {
  rule: string;
  target: string;
  minute: number;
  requests: number;
  errors4xx: number;
  errors5xx: number;
  fallbacks: number;
}

export interface FieldCount {
  field: string;
  count: number;
}

export interface ParityFigures {
  rule: string;
  compared: number;
  mismatches: number;
  skipped: number;
  /** (compared - mismatches) / compared, 0..1; null when nothing was compared */
  parity: number | null;
  /** distinct keys (patients) compared in the window, and those that differed at least once in it */
  keys: number;
  mismatchedKeys: number;
  /** (keys - mismatchedKeys) / keys; null when no key was compared */
  keyParity: number | null;
  window: string;
  topFields: FieldCount[];
  total: { compared: number; mismatches: number; skipped: number; parity: number | null; since: string | null };
}

export interface StoredSample extends ParitySample {
  id: number;
  at: string;
}

export interface TrafficFigures {
  rule: string;
  targets: { target: string; requests: number; errors5xx: number; errors4xx: number }[];
  fallbacks: number;
}

/** Per-minute rows older than this are pruned; totals are kept. */
export const MINUTES_KEPT = 7 * 24 * 60;
/** Samples kept per rule. */
export const SAMPLES_KEPT = 200;

export const parityOf = (compared: number, mismatches: number): number | null => (compared > 0 ? (compared - mismatches) / compared : null);

const n = (v: string | number | null | undefined) => Number(v ?? 0);

export class ParityStore {
  private readonly keys: ParityKeys;

  constructor(private readonly pool: pg.Pool) {
    this.keys = new ParityKeys(pool);
  }

  /** Adds the buckets, samples and keys of one flush (one transaction). */
  async add(unordered: ParityBucket[], samples: ParitySample[], keys: KeySeen[] = []): Promise<void> {
    if (unordered.length === 0 && samples.length === 0 && keys.length === 0) return;
    // every instance upserts the same rows in the same order, so concurrent flushes queue instead of deadlocking
    const buckets = [...unordered].sort((a, b) => (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : a.minute - b.minute));
    await withTransaction(this.pool, async (client) => {
      if (buckets.length) {
        await client.query(
          `INSERT INTO parity_counts (rule, minute, compared, mismatches, skipped)
           SELECT r, to_timestamp(m / 1000.0), c, x, s FROM unnest($1::text[], $2::float8[], $3::bigint[], $4::bigint[], $5::bigint[]) AS t(r, m, c, x, s)
           ON CONFLICT (rule, minute) DO UPDATE SET compared = parity_counts.compared + EXCLUDED.compared,
             mismatches = parity_counts.mismatches + EXCLUDED.mismatches, skipped = parity_counts.skipped + EXCLUDED.skipped`,
          [buckets.map((b) => b.rule), buckets.map((b) => b.minute), buckets.map((b) => b.compared), buckets.map((b) => b.mismatches), buckets.map((b) => b.skipped)],
        );
        const totals = new Map<string, { c: number; x: number; s: number; fields: Map<string, number> }>();
        const fr: string[] = [];
        const fm: number[] = [];
        const ff: string[] = [];
        const fc: number[] = [];
        for (const b of buckets) {
          const t = totals.get(b.rule) ?? { c: 0, x: 0, s: 0, fields: new Map<string, number>() };
          totals.set(b.rule, t);
          t.c += b.compared;
          t.x += b.mismatches;
          t.s += b.skipped;
          for (const [field, count] of [...b.fields].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
            fr.push(b.rule);
            fm.push(b.minute);
            ff.push(field);
            fc.push(count);
            t.fields.set(field, (t.fields.get(field) ?? 0) + count);
          }
        }
        if (ff.length) {
          await client.query(
            `INSERT INTO parity_fields (rule, minute, field, count)
             SELECT r, to_timestamp(m / 1000.0), f, c FROM unnest($1::text[], $2::float8[], $3::text[], $4::bigint[]) AS t(r, m, f, c)
             ON CONFLICT (rule, minute, field) DO UPDATE SET count = parity_fields.count + EXCLUDED.count`,
            [fr, fm, ff, fc],
          );
        }
        const rules = [...totals.keys()].sort();
        await client.query(
          `INSERT INTO parity_totals (rule, compared, mismatches, skipped)
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[])
           ON CONFLICT (rule) DO UPDATE SET compared = parity_totals.compared + EXCLUDED.compared, mismatches = parity_totals.mismatches + EXCLUDED.mismatches,
             skipped = parity_totals.skipped + EXCLUDED.skipped, last_at = clock_timestamp()`,
          [rules, rules.map((r) => totals.get(r)!.c), rules.map((r) => totals.get(r)!.x), rules.map((r) => totals.get(r)!.s)],
        );
        const tr: string[] = [];
        const tf: string[] = [];
        const tc: number[] = [];
        for (const rule of rules) {
          const t = totals.get(rule)!;
          for (const [field, count] of [...t.fields].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
            tr.push(rule);
            tf.push(field);
            tc.push(count);
          }
        }
        if (tf.length) {
          await client.query(
            `INSERT INTO parity_field_totals (rule, field, count) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
             ON CONFLICT (rule, field) DO UPDATE SET count = parity_field_totals.count + EXCLUDED.count`,
            [tr, tf, tc],
          );
        }
      }
      await this.keys.add(client, keys);
      for (const s of samples) {
        await client.query(
          `INSERT INTO parity_samples (rule, method, route, legacy_status, target_status, fields, diff, redacted, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [s.rule, s.method ?? null, s.route ?? null, s.legacyStatus ?? null, s.targetStatus ?? null, s.fields, JSON.stringify(s.diff), s.redacted, s.requestId ?? null],
        );
      }
    });
  }

  async addTraffic(unordered: TrafficBucket[]): Promise<void> {
    if (unordered.length === 0) return;
    const key = (b: TrafficBucket) => `${b.rule}\u0000${b.target}\u0000${b.minute}`;
    const buckets = [...unordered].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    await this.pool.query(
      `INSERT INTO traffic_counts (rule, target, minute, requests, errors_4xx, errors_5xx, fallbacks)
       SELECT r, t, to_timestamp(m / 1000.0), q, e4, e5, f FROM unnest($1::text[], $2::text[], $3::float8[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[]) AS x(r, t, m, q, e4, e5, f)
       ON CONFLICT (rule, target, minute) DO UPDATE SET requests = traffic_counts.requests + EXCLUDED.requests,
         errors_4xx = traffic_counts.errors_4xx + EXCLUDED.errors_4xx, errors_5xx = traffic_counts.errors_5xx + EXCLUDED.errors_5xx,
         fallbacks = traffic_counts.fallbacks + EXCLUDED.fallbacks`,
      [
        buckets.map((b) => b.rule),
        buckets.map((b) => b.target),
        buckets.map((b) => b.minute),
        buckets.map((b) => b.requests),
        buckets.map((b) => b.errors4xx),
        buckets.map((b) => b.errors5xx),
        buckets.map((b) => b.fallbacks),
      ],
    );
  }

  /** Old minutes and samples beyond the kept number go. */
  async prune(): Promise<void> {
    await this.pool.query(`DELETE FROM parity_counts WHERE minute < now() - make_interval(mins => $1)`, [MINUTES_KEPT]);
    await this.pool.query(`DELETE FROM parity_fields WHERE minute < now() - make_interval(mins => $1)`, [MINUTES_KEPT]);
    await this.pool.query(`DELETE FROM traffic_counts WHERE minute < now() - make_interval(mins => $1)`, [MINUTES_KEPT]);
    await this.keys.prune(MINUTES_KEPT);
    await this.pool.query(
      `DELETE FROM parity_samples s USING (
         SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY rule ORDER BY id DESC) AS k FROM parity_samples) r WHERE k > $1
       ) old WHERE s.id = old.id`,
      [SAMPLES_KEPT],
    );
  }

  /**
   * Figures per rule over the last `windowMinutes` minutes (the current minute included) and in
   * total; `rules` limits them to those rules (every rule with figures when absent).
   */
  async figures(windowMinutes: number, window: string, rules?: string[], topN = 5): Promise<ParityFigures[]> {
    const filter = rules ?? null;
    const since = `date_trunc('minute', now()) - make_interval(mins => $1 - 1)`;
    const [w, t, f, k] = await Promise.all([
      this.pool.query<{ rule: string; compared: string; mismatches: string; skipped: string }>(
        `SELECT rule, sum(compared) AS compared, sum(mismatches) AS mismatches, sum(skipped) AS skipped FROM parity_counts
          WHERE minute >= ${since} AND ($2::text[] IS NULL OR rule = ANY($2)) GROUP BY rule`,
        [windowMinutes, filter],
      ),
      this.pool.query<{ rule: string; compared: string; mismatches: string; skipped: string; first_at: Date }>(
        `SELECT rule, compared, mismatches, skipped, first_at FROM parity_totals WHERE ($1::text[] IS NULL OR rule = ANY($1))`,
        [filter],
      ),
      // among fields that differ as often, status first: a 404 against a 200 says the most
      this.pool.query<{ rule: string; field: string; count: string }>(
        `SELECT rule, field, sum(count) AS count FROM parity_fields WHERE minute >= ${since} AND ($2::text[] IS NULL OR rule = ANY($2))
          GROUP BY rule, field ORDER BY rule, sum(count) DESC, field <> 'status', field`,
        [windowMinutes, filter],
      ),
      this.keys.figures(windowMinutes, filter),
    ]);
    const names = new Set([...(rules ?? []), ...w.rows.map((r) => r.rule), ...t.rows.map((r) => r.rule)]);
    const byRule = <R extends { rule: string }>(rows: R[]) => new Map(rows.map((r) => [r.rule, r]));
    const win = byRule(w.rows);
    const tot = byRule(t.rows);
    return [...names].sort().map((rule) => {
      const a = win.get(rule);
      const b = tot.get(rule);
      const compared = n(a?.compared);
      const mismatches = n(a?.mismatches);
      const keys = k.get(rule);
      return {
        rule,
        compared,
        mismatches,
        skipped: n(a?.skipped),
        parity: parityOf(compared, mismatches),
        keys: keys?.keys ?? 0,
        mismatchedKeys: keys?.mismatchedKeys ?? 0,
        keyParity: parityOf(keys?.keys ?? 0, keys?.mismatchedKeys ?? 0),
        window,
        topFields: f.rows
          .filter((r) => r.rule === rule)
          .slice(0, topN)
          .map((r) => ({ field: r.field, count: n(r.count) })),
        total: {
          compared: n(b?.compared),
          mismatches: n(b?.mismatches),
          skipped: n(b?.skipped),
          parity: parityOf(n(b?.compared), n(b?.mismatches)),
          since: b ? b.first_at.toISOString() : null,
        },
      };
    });
  }

  /** Distinct and mismatched keys of one rule over the last `windowMinutes` minutes, compared against `target` when given. */
  async keyFigures(windowMinutes: number, rule: string, target?: string): Promise<KeyFigures> {
    return (await this.keys.figures(windowMinutes, [rule], target)).get(rule) ?? { rule, keys: 0, mismatchedKeys: 0 };
  }

  /** The most differing fields since the beginning. */
  async totalFields(rule: string, topN = 20): Promise<FieldCount[]> {
    const { rows } = await this.pool.query<{ field: string; count: string }>(
      `SELECT field, count FROM parity_field_totals WHERE rule = $1 ORDER BY count DESC, field <> 'status', field LIMIT $2`,
      [rule, topN],
    );
    return rows.map((r) => ({ field: r.field, count: n(r.count) }));
  }

  async samples(rule: string, limit: number): Promise<StoredSample[]> {
    const { rows } = await this.pool.query<{
      id: string;
      at: Date;
      rule: string;
      method: string | null;
      route: string | null;
      legacy_status: number | null;
      target_status: number | null;
      fields: string[];
      diff: DiffEntry[];
      redacted: boolean;
      request_id: string | null;
    }>(`SELECT * FROM parity_samples WHERE rule = $1 ORDER BY id DESC LIMIT $2`, [rule, limit]);
    return rows.map((r) => ({
      id: n(r.id),
      at: r.at.toISOString(),
      rule: r.rule,
      method: r.method ?? undefined,
      route: r.route ?? undefined,
      legacyStatus: r.legacy_status ?? undefined,
      targetStatus: r.target_status ?? undefined,
      fields: r.fields,
      diff: r.diff,
      redacted: r.redacted,
      requestId: r.request_id ?? undefined,
    }));
  }

  /** Requests per rule and upstream over the last `windowMinutes` minutes, from every instance. */
  async traffic(windowMinutes: number): Promise<TrafficFigures[]> {
    const { rows } = await this.pool.query<{ rule: string; target: string; requests: string; e4: string; e5: string; fallbacks: string }>(
      `SELECT rule, target, sum(requests) AS requests, sum(errors_4xx) AS e4, sum(errors_5xx) AS e5, sum(fallbacks) AS fallbacks FROM traffic_counts
        WHERE minute >= date_trunc('minute', now()) - make_interval(mins => $1 - 1) GROUP BY rule, target ORDER BY rule, target`,
      [windowMinutes],
    );
    const out = new Map<string, TrafficFigures>();
    for (const r of rows) {
      const f = out.get(r.rule) ?? { rule: r.rule, targets: [], fallbacks: 0 };
      out.set(r.rule, f);
      f.targets.push({ target: r.target, requests: n(r.requests), errors5xx: n(r.e5), errors4xx: n(r.e4) });
      f.fallbacks += n(r.fallbacks);
    }
    return [...out.values()];
  }
}
