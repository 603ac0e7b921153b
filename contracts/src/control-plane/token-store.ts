/**
 * Bearer tokens of the admin API, stored as scrypt hashes (Node's own scrypt: no native
 * add-on to build). A token is shown once, when it is made. The row is found by a short,
 * non-secret lookup key (a prefix of the token's SHA-256); the hash is then checked in
 * constant time. A verified hash is remembered in memory so that scrypt's deliberate cost is
 * paid once per token and process, while revocation, read from the row on every request,
 * takes effect at once. A token may be made with an end (`expires_at`): past it, it is refused
 * as a revoked one is, and it no longer counts as an active token (names, the last admin).
 */
import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type pg from 'pg';
import { withTransaction } from '../postgres/transaction.js';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function roleAtLeast(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export interface TokenInfo {
  id: number;
  name: string;
  role: Role;
  createdAt: string;
  createdBy: string;
  revokedAt?: string;
  revokedBy?: string;
  lastUsedAt?: string;
  /** when it stops working by itself; absent: only a revocation ends it */
  expiresAt?: string;
}

/** Why a presented token is refused (the 401's reason). */
export type TokenRefusal = 'unknown' | 'revoked' | 'expired';

/** A name an active token already has: the audit log names tokens by name, so two would be one. */
export class TokenNameTakenError extends Error {
  constructor(
    readonly tokenName: string,
    readonly holder: number,
  ) {
    super(`an active token is already named "${tokenName}" (token ${holder}): choose another name, or revoke that one first`);
  }
}

/** Revoking it would leave no active admin token, and nobody could make or revoke tokens again. */
export class LastAdminTokenError extends Error {
  constructor(readonly id: number) {
    super(`token ${id} is the last active admin token: revoking it would leave nobody able to manage tokens; make another admin token first`);
  }
}

const SCRYPT = { N: 16_384, r: 8, p: 1, keylen: 32 };

function scryptAsync(secret: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(secret, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))));
}

async function hashToken(token: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(token, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

async function verifyHash(token: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !key) return false;
  const expected = Buffer.from(key, 'base64');
  const got = await scryptAsync(token, Buffer.from(salt, 'base64'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return got.length === expected.length && timingSafeEqual(got, expected);
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export function lookupKey(token: string): string {
  return sha256(token).slice(0, 16);
}

export function newTokenSecret(): string {
  return `ficus_${randomBytes(32).toString('base64url')}`;
}

interface Row {
  id: string;
  name: string;
  role: Role;
  hash: string;
  created_at: Date;
  created_by: string;
  revoked_at: Date | null;
  revoked_by: string | null;
  last_used_at: Date | null;
  expires_at: Date | null;
}

function toInfo(r: Row): TokenInfo {
  return {
    id: Number(r.id),
    name: r.name,
    role: r.role,
    createdAt: r.created_at.toISOString(),
    createdBy: r.created_by,
    ...(r.revoked_at ? { revokedAt: r.revoked_at.toISOString(), revokedBy: r.revoked_by ?? undefined } : {}),
    ...(r.last_used_at ? { lastUsedAt: r.last_used_at.toISOString() } : {}),
    ...(r.expires_at ? { expiresAt: r.expires_at.toISOString() } : {}),
  };
}

/**
 * `created_by` of the token stored from FICUS_ADMIN_TOKEN. Tokens made through the API say
 * `token:<name>` or `jwt:<who>`, and the first token made without one says `bootstrap`, so
 * this value marks the environment's token alone (rows stored before it was used so too).
 */
export const FROM_ENVIRONMENT = 'FICUS_ADMIN_TOKEN';

/** What storing the environment's admin token found and did. */
export type EnvTokenOutcome =
  /** stored now; `replaced`: the earlier environment tokens, revoked in the same transaction */
  | { kind: 'created'; token: TokenInfo; replaced: TokenInfo[] }
  /** stored before and active; `replaced`: other environment tokens still active until now, revoked */
  | { kind: 'present'; token: TokenInfo; replaced: TokenInfo[] }
  /** the secret is a revoked token's: a revocation is never undone by a restart */
  | { kind: 'revoked'; token: TokenInfo }
  /** the secret is an active token's that is not an admin's (nothing is revoked for it) */
  | { kind: 'not-admin'; token: TokenInfo }
  /** another secret has the same lookup key (a 64-bit collision): it cannot be stored */
  | { kind: 'collision' };

/** Serialises the changes whose check reads other tokens (names, the last admin). */
const lockTokens = (tx: Pick<pg.Pool, 'query'>) => tx.query("SELECT pg_advisory_xact_lock(hashtext('ficus:api_tokens'))");

/** A token that works now: neither revoked nor past its end (SQL, over api_tokens' columns). */
const ACTIVE = '(revoked_at IS NULL AND (expires_at IS NULL OR expires_at > clock_timestamp()))';

export class TokenStore {
  /** sha256(token) of tokens whose hash already verified in this process */
  private readonly verified = new Map<string, string>();

  constructor(private readonly pool: pg.Pool) {}

  /** Makes a token (or stores the given secret); answers the row and the secret, shown once. */
  async create(name: string, role: Role, createdBy: string, secret = newTokenSecret(), expiresAt?: Date): Promise<{ info: TokenInfo; token: string }> {
    return this.insert(this.pool, name, role, createdBy, secret, await hashToken(secret), expiresAt);
  }

  /** As create, refused (TokenNameTakenError) when an active token has the name already. */
  async createUnique(name: string, role: Role, createdBy: string, expiresAt?: Date): Promise<{ info: TokenInfo; token: string }> {
    const secret = newTokenSecret();
    // scrypt before the lock: it is slow on purpose
    const hash = await hashToken(secret);
    return withTransaction(this.pool, async (tx) => {
      await lockTokens(tx);
      const { rows } = await tx.query<{ id: string }>(`SELECT id FROM api_tokens WHERE name = $1 AND ${ACTIVE} ORDER BY id LIMIT 1`, [name]);
      if (rows[0]) throw new TokenNameTakenError(name, Number(rows[0].id));
      return this.insert(tx, name, role, createdBy, secret, hash, expiresAt);
    });
  }

  /**
   * Stores the environment's admin token (FICUS_ADMIN_TOKEN) unless it is stored already, and
   * revokes every other token the environment gave earlier: replacing the secret must end the
   * old one, or a value once committed to a repository stays an admin token. The check and the
   * insert hold the token lock, so replicas starting together store it once. The new token
   * comes first in the transaction, so the revoked ones are never the last admin token.
   * `alsoInTransaction` writes the audit entries of what changed, with the change.
   */
  async storeEnvironmentToken(secret: string, defaultName: string, alsoInTransaction: (tx: pg.PoolClient, outcome: EnvTokenOutcome) => Promise<void>): Promise<EnvTokenOutcome> {
    // scrypt before the lock: it is slow on purpose
    const hash = await hashToken(secret);
    return withTransaction(this.pool, async (tx) => {
      await lockTokens(tx);
      const { rows: same } = await tx.query<Row>('SELECT * FROM api_tokens WHERE lookup = $1', [lookupKey(secret)]);
      const known = same[0];
      let outcome: EnvTokenOutcome;
      if (known && !(await verifyHash(secret, known.hash))) outcome = { kind: 'collision' };
      else if (known?.revoked_at) outcome = { kind: 'revoked', token: toInfo(known) };
      else if (known && known.role !== 'admin') outcome = { kind: 'not-admin', token: toInfo(known) };
      else if (known) outcome = { kind: 'present', token: toInfo(known), replaced: await this.revokeEnvironmentTokens(tx, Number(known.id)) };
      else {
        const { rows: earlier } = await tx.query<Row>('SELECT * FROM api_tokens WHERE created_by = $1 AND revoked_at IS NULL ORDER BY id', [FROM_ENVIRONMENT]);
        const { rows: names } = await tx.query<{ name: string }>(`SELECT name FROM api_tokens WHERE ${ACTIVE} AND created_by <> $1`, [FROM_ENVIRONMENT]);
        // the earlier token's name carries over (audit queries by name keep working); a name an
        // unrelated active token holds gets a suffix rather than two tokens of one name
        const base = earlier[0]?.name ?? defaultName;
        const taken = new Set(names.map((n) => n.name));
        let name = base;
        for (let i = 2; taken.has(name); i++) name = `${base}-${i}`;
        const { info } = await this.insert(tx, name, 'admin', FROM_ENVIRONMENT, secret, hash);
        outcome = { kind: 'created', token: info, replaced: await this.revokeEnvironmentTokens(tx, info.id) };
      }
      await alsoInTransaction(tx, outcome);
      return outcome;
    });
  }

  /** Revokes the active environment tokens other than `keep` (in a transaction holding the token lock). */
  private async revokeEnvironmentTokens(tx: pg.PoolClient, keep: number): Promise<TokenInfo[]> {
    const { rows } = await tx.query<Row>(
      'UPDATE api_tokens SET revoked_at = clock_timestamp(), revoked_by = $1 WHERE created_by = $1 AND revoked_at IS NULL AND id <> $2 RETURNING *',
      [FROM_ENVIRONMENT, keep],
    );
    return rows.map(toInfo).sort((a, b) => a.id - b.id);
  }

  /** Makes the first token when there is none at all; undefined when there is one (another replica made it). */
  async createFirst(name: string, role: Role, createdBy: string): Promise<{ info: TokenInfo; token: string } | undefined> {
    const secret = newTokenSecret();
    const hash = await hashToken(secret);
    return withTransaction(this.pool, async (tx) => {
      await lockTokens(tx);
      const { rows } = await tx.query('SELECT 1 FROM api_tokens LIMIT 1');
      if (rows.length > 0) return undefined;
      return this.insert(tx, name, role, createdBy, secret, hash);
    });
  }

  private async insert(db: Pick<pg.Pool, 'query'>, name: string, role: Role, createdBy: string, secret: string, hash: string, expiresAt?: Date): Promise<{ info: TokenInfo; token: string }> {
    const { rows } = await db.query<Row>('INSERT INTO api_tokens (name, role, lookup, hash, created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *', [
      name,
      role,
      lookupKey(secret),
      hash,
      createdBy,
      expiresAt ?? null,
    ]);
    return { info: toInfo(rows[0]!), token: secret };
  }

  async list(): Promise<TokenInfo[]> {
    const { rows } = await this.pool.query<Row>('SELECT * FROM api_tokens ORDER BY id');
    return rows.map(toInfo);
  }

  /** Is there a token (revoked or not) with this lookup key? */
  async hasLookup(lookup: string): Promise<boolean> {
    const { rows } = await this.pool.query('SELECT 1 FROM api_tokens WHERE lookup = $1', [lookup]);
    return rows.length > 0;
  }

  async count(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM api_tokens');
    return Number(rows[0]?.n ?? 0);
  }

  /** Undefined when no active token has the id; LastAdminTokenError for the last active admin token. */
  async revoke(id: number, by: string): Promise<TokenInfo | undefined> {
    return withTransaction(this.pool, async (tx) => {
      // two admins revoking each other at once must not both succeed
      await lockTokens(tx);
      // an expired token may still be revoked (its row then says who ended it); it is no admin to keep
      const { rows: open } = await tx.query<{ id: string; role: Role; active: boolean }>(
        `SELECT id, role, ${ACTIVE} AS active FROM api_tokens WHERE revoked_at IS NULL AND (id = $1 OR role = 'admin')`,
        [id],
      );
      const token = open.find((t) => Number(t.id) === id);
      if (!token) return undefined;
      if (token.active && token.role === 'admin' && !open.some((t) => t.active && t.role === 'admin' && Number(t.id) !== id)) throw new LastAdminTokenError(id);
      const { rows } = await tx.query<Row>('UPDATE api_tokens SET revoked_at = clock_timestamp(), revoked_by = $2 WHERE id = $1 RETURNING *', [id, by]);
      return toInfo(rows[0]!);
    });
  }

  /** The token's row when the token is known, its hash matches, it is not revoked and has not expired. */
  async verify(token: string): Promise<TokenInfo | undefined> {
    const checked = await this.check(token);
    return checked.ok ? checked.info : undefined;
  }

  /**
   * As verify, with why a token is refused. Revoked and expired are told only for a token whose
   * hash matches: anyone else learns nothing about which tokens exist.
   */
  async check(token: string): Promise<{ ok: true; info: TokenInfo } | { ok: false; refusal: TokenRefusal }> {
    const { rows } = await this.pool.query<Row & { expired: boolean }>('SELECT *, expires_at <= clock_timestamp() AS expired FROM api_tokens WHERE lookup = $1', [lookupKey(token)]);
    const row = rows[0];
    if (!row) return { ok: false, refusal: 'unknown' };
    const digest = sha256(token);
    if (this.verified.get(digest) !== row.hash) {
      if (!(await verifyHash(token, row.hash))) return { ok: false, refusal: 'unknown' };
      this.verified.set(digest, row.hash);
    }
    if (row.revoked_at) return { ok: false, refusal: 'revoked' };
    if (row.expired) return { ok: false, refusal: 'expired' };
    void this.pool.query('UPDATE api_tokens SET last_used_at = clock_timestamp() WHERE id = $1', [row.id]).catch(() => undefined);
    return { ok: true, info: toInfo(row) };
  }
}
