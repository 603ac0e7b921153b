/**
 * The keys (patients) compared per rule, for the flip gate's breadth: how many distinct keys a
 * window compared and how many of them differed at least once. Volume alone can be had by
 * repeating one good request; a gate an operator trusts needs both.
 *
 * Kept as one row per rule, target and key with the last minute it was compared and the last
 * minute it differed (migrations/gateway/006): bounded by the records a rule serves, not by
 * traffic, exact for any window ending now, and the same whichever instance flushes first
 * (GREATEST). Keys are stored as 64 bits of an HMAC under a secret drawn once in the database:
 * an MRN has too few values for a plain hash to hide it.
 */
import { createHmac } from 'node:crypto';
import type pg from 'pg';

/** A key as an instance saw it between two flushes. */
export interface KeySeen {
  rule: string;
  /** the upstream the comparison was made against: evidence is for one target */
  target: string;
  /** the key itself (an MRN...): hashed before it is written */
  key: string;
  /** start of the minute it was last compared, ms since the epoch */
  compared: number;
  /** start of the minute it last differed, or undefined */
  mismatch: number | undefined;
}

export interface KeyFigures {
  rule: string;
  keys: number;
  mismatchedKeys: number;
}

/** Merges a later sighting of the same key into `into`. */
export function mergeSeen(into: KeySeen, other: Pick<KeySeen, 'compared' | 'mismatch'>): void {
  into.compared = Math.max(into.compared, other.compared);
  if (other.mismatch !== undefined) into.mismatch = Math.max(into.mismatch ?? 0, other.mismatch);
}

export const seenId = (s: Pick<KeySeen, 'rule' | 'target' | 'key'>): string => `${s.rule}\u0000${s.target}\u0000${s.key}`;

const n = (v: string | number | null | undefined) => Number(v ?? 0);

export class ParityKeys {
  private secret: Promise<string> | undefined;

  constructor(private readonly pool: pg.Pool) {}

  private async hasher(): Promise<(s: KeySeen) => string> {
    this.secret ??= this.pool.query<{ secret: string }>('SELECT secret FROM parity_key_secret').then(({ rows }) => {
      if (!rows[0]) throw new Error('parity_key_secret is empty (migration 006 draws it)');
      return rows[0].secret;
    });
    this.secret.catch(() => (this.secret = undefined));
    const secret = await this.secret;
    // the rule in the message: the same patient under two rules is two unrelated values
    return (s) => createHmac('sha256', secret).update(`${s.rule}\u0000${s.key}`).digest().readBigInt64BE(0).toString();
  }

  /** Writes one flush's keys, within its transaction. */
  async add(client: pg.PoolClient, seen: KeySeen[]): Promise<void> {
    if (seen.length === 0) return;
    const hash = await this.hasher();
    // one row per key in a statement (ON CONFLICT cannot touch a row twice), in the order every instance uses
    const rows = new Map<string, { rule: string; target: string; key: string; compared: number; mismatch: number | undefined }>();
    for (const s of seen) {
      const key = hash(s);
      const id = `${s.rule}\u0000${s.target}\u0000${key}`;
      const row = rows.get(id);
      if (row) mergeSeen(row as KeySeen, s);
      else rows.set(id, { rule: s.rule, target: s.target, key, compared: s.compared, mismatch: s.mismatch });
    }
    const sorted = [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r);
    await client.query(
      `INSERT INTO parity_keys (rule, target, key, last_compared, last_mismatch)
       SELECT r, t, k, to_timestamp(c / 1000.0), to_timestamp(m / 1000.0) FROM unnest($1::text[], $2::text[], $3::bigint[], $4::float8[], $5::float8[]) AS x(r, t, k, c, m)
       ON CONFLICT (rule, target, key) DO UPDATE SET last_compared = GREATEST(parity_keys.last_compared, EXCLUDED.last_compared),
         last_mismatch = GREATEST(parity_keys.last_mismatch, EXCLUDED.last_mismatch)`,
      [sorted.map((r) => r.rule), sorted.map((r) => r.target), sorted.map((r) => r.key), sorted.map((r) => r.compared), sorted.map((r) => r.mismatch ?? null)],
    );
  }

  /**
   * Distinct keys compared, and those that differed, in the last `windowMinutes` minutes (the
   * current one included), per rule; against `target` only when given, else against any.
   */
  async figures(windowMinutes: number, rules: string[] | null, target?: string): Promise<Map<string, KeyFigures>> {
    const since = `date_trunc('minute', now()) - make_interval(mins => $1 - 1)`;
    const { rows } = await this.pool.query<{ rule: string; keys: string; mismatched: string }>(
      `SELECT rule, count(DISTINCT key) AS keys, count(DISTINCT key) FILTER (WHERE last_mismatch >= ${since}) AS mismatched FROM parity_keys
        WHERE last_compared >= ${since} AND ($2::text[] IS NULL OR rule = ANY($2)) AND ($3::text IS NULL OR target = $3) GROUP BY rule`,
      [windowMinutes, rules, target ?? null],
    );
    return new Map(rows.map((r) => [r.rule, { rule: r.rule, keys: n(r.keys), mismatchedKeys: n(r.mismatched) }]));
  }

  async prune(minutesKept: number): Promise<void> {
    await this.pool.query(`DELETE FROM parity_keys WHERE last_compared < now() - make_interval(mins => $1)`, [minutesKept]);
  }
}
