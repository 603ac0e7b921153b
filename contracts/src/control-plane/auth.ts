/**
 * Who is calling the admin API: a bearer token of our own (stored hashed) or a JWT from the
 * hospital's identity provider (OIDC: issuer, audience and key set from config; the role in
 * a claim). Anything else is anonymous.
 */
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { ROLES, roleAtLeast, type Role, type TokenRefusal, type TokenStore } from './token-store.js';

export interface Principal {
  actor: string;
  role: Role;
  auth: 'token' | 'jwt';
  tokenId?: number;
}

export interface OidcOptions {
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** the claim that holds the role (a string, or a list: the highest known role counts) */
  roleClaim: string;
}

export type AuthResult = { ok: true; principal: Principal } | { ok: false; reason: string };

function highestRole(claim: unknown): Role | undefined {
  const values = Array.isArray(claim) ? claim : [claim];
  let best: Role | undefined;
  for (const v of values) {
    const role = ROLES.find((r) => r === v);
    if (role && (!best || roleAtLeast(role, best))) best = role;
  }
  return best;
}

const REFUSALS: Record<TokenRefusal, string> = {
  unknown: 'unknown or revoked token',
  revoked: 'the token was revoked: ask an admin for a new one',
  expired: 'the token has expired: ask an admin for a new one',
};

export class Authenticator {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet> | undefined;

  constructor(
    private readonly tokens: TokenStore,
    private readonly oidc: OidcOptions | undefined,
  ) {
    this.jwks = oidc ? createRemoteJWKSet(new URL(oidc.jwksUrl), { cooldownDuration: 30_000, timeoutDuration: 5_000 }) : undefined;
  }

  async authenticate(authorization: string | undefined): Promise<AuthResult> {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) return { ok: false, reason: authorization ? 'the Authorization header is not "Bearer <token>"' : 'no bearer token' };
    const credential = match[1]!;
    if (credential.split('.').length === 3 && !credential.startsWith('ficus_')) return this.verifyJwt(credential);
    const checked = await this.tokens.check(credential);
    if (!checked.ok) return { ok: false, reason: REFUSALS[checked.refusal] };
    const token = checked.info;
    return { ok: true, principal: { actor: `token:${token.name}`, role: token.role, auth: 'token', tokenId: token.id } };
  }

  private async verifyJwt(jwt: string): Promise<AuthResult> {
    if (!this.oidc || !this.jwks) return { ok: false, reason: 'a JWT was presented, but no identity provider is configured' };
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(jwt, this.jwks, { issuer: this.oidc.issuer, audience: this.oidc.audience }));
    } catch (e) {
      return { ok: false, reason: `JWT refused: ${(e as Error).message}` };
    }
    const role = highestRole(payload[this.oidc.roleClaim]);
    if (!role) return { ok: false, reason: `the JWT has no known role in claim "${this.oidc.roleClaim}"` };
    const who = (payload.preferred_username as string | undefined) ?? payload.sub ?? 'unknown';
    return { ok: true, principal: { actor: `jwt:${who}`, role, auth: 'jwt' } };
  }
}
