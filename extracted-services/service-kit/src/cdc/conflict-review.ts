/**
 * The review of ficus_change_conflicts (the CDC changes the conflict rule did not apply):
 * list them (newest first, by topic, key and time, those not resolved yet unless asked), show
 * one with its change, and mark one resolved with who and why. The listing leaves the change's
 * field values out (PHI): an operator asks for one change at a time.
 */
import type pg from 'pg';
import { keyText } from '@ficus/contracts';
import type { ServiceConflict, ServiceConflictDetail } from '@ficus/contracts/api';

export interface ConflictFilter {
  topic?: string | undefined;
  /** a value of any field of the key (an MRN), or the key as a JSON object ({"mrn":"1234567"}) */
  key?: string | undefined;
  /** recorded at or after (ISO 8601) */
  since?: string | undefined;
  /** resolved ones too (default: only those not resolved yet) */
  all?: boolean | undefined;
  limit: number;
  /** the id below which to go on (the last page's nextCursor) */
  cursor?: string | undefined;
}

export interface ConflictPage {
  conflicts: ServiceConflict[];
  nextCursor: string | null;
}

/** the unresolved conflicts of one topic: how many, and when the oldest was recorded */
export interface UnresolvedCount {
  topic: string;
  count: number;
  oldest: string;
}

export type ResolveOutcome = { ok: true; conflict: ServiceConflict } | { ok: false; why: 'not-found' } | { ok: false; why: 'already-resolved'; conflict: ServiceConflict };

interface ConflictRow {
  id: string;
  topic: string;
  key: string;
  op: string;
  source: string;
  position: string;
  commit_time: Date | null;
  reason: string;
  recorded_at: Date;
  resolved_at: Date | null;
  resolved_by: string | null;
  resolution_note: string | null;
}

const COLUMNS = 'id::text AS id, topic, key, op, source, position, commit_time, reason, recorded_at, resolved_at, resolved_by, resolution_note';

/**
 * A key filter that is a JSON object matches keys holding each of its fields; anything else
 * matches a key with a field of that value. Values compare as the change consumer identifies
 * rows (keyText: every scalar as its text), so {"admissionId":7} finds a key stored as "7" and
 * {"mrn":"1234567"} one stored as a number: the envelope's JSON type follows the legacy column's
 * type, which the operator typing the filter does not see. null and json values compare as JSON.
 */
function keyCondition(key: string, param: number): { sql: string; value: string } {
  try {
    const parsed: unknown = JSON.parse(key);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      // [[field, canonical value], …]: a string is a scalar's text, to compare with ->> (the stored number's or string's text)
      return {
        sql: `NOT EXISTS (SELECT 1 FROM jsonb_array_elements($${param}::jsonb) AS f(pair) WHERE (CASE
          WHEN jsonb_typeof(f.pair->1) = 'string' THEN jsonb_typeof(key::jsonb -> (f.pair->>0)) IN ('string', 'number', 'boolean') AND key::jsonb ->> (f.pair->>0) = f.pair->>1
          ELSE key::jsonb -> (f.pair->>0) = f.pair->1 END) IS NOT TRUE)`,
        value: keyText(parsed as Record<string, unknown>),
      };
    }
  } catch {
    // a plain value: an MRN, a result id
  }
  return { sql: `EXISTS (SELECT 1 FROM jsonb_each_text(key::jsonb) AS k(name, value) WHERE k.value = $${param})`, value: key };
}

function toConflict(service: string, r: ConflictRow): ServiceConflict {
  return {
    id: r.id,
    service,
    topic: r.topic,
    key: JSON.parse(r.key) as Record<string, unknown>,
    op: r.op,
    source: r.source,
    position: r.position,
    commitTime: r.commit_time?.toISOString() ?? null,
    reason: r.reason,
    recordedAt: r.recorded_at.toISOString(),
    resolvedAt: r.resolved_at?.toISOString() ?? null,
    resolvedBy: r.resolved_by,
    resolutionNote: r.resolution_note,
  };
}

export class ConflictReview {
  constructor(
    private readonly pool: pg.Pool,
    private readonly service: string,
  ) {}

  async list(f: ConflictFilter): Promise<ConflictPage> {
    const where: string[] = [];
    const values: unknown[] = [];
    const add = (sql: (n: number) => string, value: unknown) => {
      values.push(value);
      where.push(sql(values.length));
    };
    if (!f.all) where.push('resolved_at IS NULL');
    if (f.topic !== undefined) add((n) => `topic = $${n}`, f.topic);
    if (f.key !== undefined) {
      const k = keyCondition(f.key, values.length + 1);
      values.push(k.value);
      where.push(k.sql);
    }
    if (f.since !== undefined) add((n) => `recorded_at >= $${n}::timestamptz`, f.since);
    if (f.cursor !== undefined) add((n) => `id < $${n}::bigint`, f.cursor);
    values.push(f.limit + 1);
    const { rows } = await this.pool.query<ConflictRow>(
      `SELECT ${COLUMNS} FROM ficus_change_conflicts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${values.length}`,
      values,
    );
    const page = rows.slice(0, f.limit);
    return { conflicts: page.map((r) => toConflict(this.service, r)), nextCursor: rows.length > f.limit ? page.at(-1)!.id : null };
  }

  /** The conflicts not resolved yet, per topic, and when the oldest of them was recorded. */
  async unresolved(): Promise<UnresolvedCount[]> {
    const { rows } = await this.pool.query<{ topic: string; n: string; oldest: Date }>(
      'SELECT topic, count(*)::text AS n, min(recorded_at) AS oldest FROM ficus_change_conflicts WHERE resolved_at IS NULL GROUP BY topic ORDER BY topic',
    );
    return rows.map((r) => ({ topic: r.topic, count: Number(r.n), oldest: r.oldest.toISOString() }));
  }

  async show(id: string): Promise<ServiceConflictDetail | undefined> {
    const { rows } = await this.pool.query<ConflictRow & { change: ServiceConflictDetail['change'] }>(`SELECT ${COLUMNS}, change FROM ficus_change_conflicts WHERE id = $1::bigint`, [id]);
    const r = rows[0];
    return r ? { ...toConflict(this.service, r), change: r.change } : undefined;
  }

  /** Marks one reviewed: it leaves the default list. A second resolve changes nothing (the first one's who and why stay). */
  async resolve(id: string, by: string, note: string): Promise<ResolveOutcome> {
    const { rows } = await this.pool.query<ConflictRow>(
      `UPDATE ficus_change_conflicts SET resolved_at = clock_timestamp(), resolved_by = $2, resolution_note = $3 WHERE id = $1::bigint AND resolved_at IS NULL RETURNING ${COLUMNS}`,
      [id, by, note],
    );
    if (rows[0]) return { ok: true, conflict: toConflict(this.service, rows[0]) };
    const existing = await this.pool.query<ConflictRow>(`SELECT ${COLUMNS} FROM ficus_change_conflicts WHERE id = $1::bigint`, [id]);
    return existing.rows[0] ? { ok: false, why: 'already-resolved', conflict: toConflict(this.service, existing.rows[0]) } : { ok: false, why: 'not-found' };
  }
}

/** a topic's unresolved conflicts for the gauges: none has no oldest */
export type UnresolvedGauge = { topic: string; count: number; oldest: string | null };

/**
 * The unresolved count per topic for a gauge, read at most once per `maxAgeMs` however often
 * it is scraped (several Prometheus servers, a scrape storm): one query, shared by the scrapes
 * that come while it runs. Topics the service consumes are shown at 0 rather than missing.
 */
export function cachedUnresolved(review: ConflictReview, topics: readonly string[], maxAgeMs: number, now: () => number = Date.now): () => Promise<UnresolvedGauge[]> {
  let last: { at: number; value: Promise<UnresolvedGauge[]> } | undefined;
  return () => {
    if (last && now() - last.at < maxAgeMs) return last.value;
    const value = review.unresolved().then((counts) => {
      const per = new Map<string, UnresolvedGauge>(topics.map((topic) => [topic, { topic, count: 0, oldest: null }]));
      for (const c of counts) per.set(c.topic, c);
      return [...per.values()];
    });
    last = { at: now(), value };
    // a failed read is not kept: the next scrape asks again
    value.catch(() => {
      if (last?.value === value) last = undefined;
    });
    return value;
  };
}
