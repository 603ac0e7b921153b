/**
 * The audit log: every write to the control plane, refused ones included. Append-only (the
 * database refuses updates and deletes).
 */
import type pg from 'pg';

export type AuditOutcome = 'ok' | 'refused' | 'denied' | 'conflict' | 'error';

export interface AuditEntry {
  actor: string;
  /** the token that acted, when a token did: its name alone may have been another token's before */
  tokenId?: number | undefined;
  role?: string | undefined;
  /** how the actor proved who they are: token, jwt, none */
  auth: string;
  sourceIp?: string | undefined;
  userAgent?: string | undefined;
  action: string;
  target?: string | undefined;
  reason?: string | undefined;
  outcome: AuditOutcome;
  status: number;
  version?: number | undefined;
  detail?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
  id: number;
  at: string;
}

export interface AuditQuery {
  actor?: string;
  tokenId?: number;
  action?: string;
  outcome?: AuditOutcome;
  target?: string;
  since?: string;
  until?: string;
  limit?: number;
}

interface Row {
  id: string;
  at: Date;
  actor: string;
  role: string | null;
  auth: string;
  source_ip: string | null;
  user_agent: string | null;
  action: string;
  target: string | null;
  reason: string | null;
  outcome: AuditOutcome;
  status: number;
  version: string | null;
  detail: Record<string, unknown>;
}

/** Where the token id is kept: in the entry's detail (the table has no column for it), taken out again when read. */
const TOKEN_ID = 'actorTokenId';

export class AuditLog {
  constructor(private readonly pool: pg.Pool) {}

  /** Appends an entry; `db` is a transaction's client when the entry belongs to a change. */
  async append(e: AuditEntry, db: Pick<pg.Pool, 'query'> = this.pool): Promise<void> {
    await db.query(
      `INSERT INTO audit_log (actor, role, auth, source_ip, user_agent, action, target, reason, outcome, status, version, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [e.actor, e.role ?? null, e.auth, e.sourceIp ?? null, e.userAgent ?? null, e.action, e.target ?? null, e.reason ?? null, e.outcome, e.status, e.version ?? null, JSON.stringify(e.tokenId === undefined ? (e.detail ?? {}) : { ...e.detail, [TOKEN_ID]: e.tokenId })],
    );
  }

  /** Newest first. */
  async query(q: AuditQuery): Promise<AuditRecord[]> {
    const { rows } = await this.pool.query<Row>(
      `SELECT * FROM audit_log
        WHERE ($1::text IS NULL OR actor = $1)
          AND ($2::text IS NULL OR action = $2)
          AND ($3::text IS NULL OR outcome = $3)
          AND ($4::text IS NULL OR target = $4)
          AND ($5::timestamptz IS NULL OR at >= $5)
          AND ($6::timestamptz IS NULL OR at < $6)
          AND ($8::bigint IS NULL OR (detail->>'${TOKEN_ID}')::bigint = $8::bigint)
        ORDER BY id DESC LIMIT $7`,
      [q.actor ?? null, q.action ?? null, q.outcome ?? null, q.target ?? null, q.since ?? null, q.until ?? null, q.limit ?? 100, q.tokenId ?? null],
    );
    return rows.map((r) => {
      const { [TOKEN_ID]: tokenId, ...detail } = r.detail;
      return {
        id: Number(r.id),
        at: r.at.toISOString(),
        actor: r.actor,
        ...(typeof tokenId === 'number' ? { tokenId } : {}),
        role: r.role ?? undefined,
        auth: r.auth,
        sourceIp: r.source_ip ?? undefined,
        userAgent: r.user_agent ?? undefined,
        action: r.action,
        target: r.target ?? undefined,
        reason: r.reason ?? undefined,
        outcome: r.outcome,
        status: r.status,
        version: r.version === null ? undefined : Number(r.version),
        detail,
      };
    });
  }
}
