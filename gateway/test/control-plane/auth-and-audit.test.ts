/**
 * Authentication and roles of the admin API, and the audit trail of every write attempt:
 * tokens (stored hashed), revocation, and JWTs from an OIDC provider (a local key set here).
 */
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test-support/databases.js';
import { ADMIN_TOKEN, adminClient, seedRules, startStoreGateway, type StoreGateway } from '../support/store-gateway.js';
import { startTestUpstream, type TestUpstream } from '../support/test-upstream.js';

let db: TestDatabase;
let legacy: TestUpstream;
let gw: StoreGateway;
let jwksServer: Server;
let sign: (claims: Record<string, unknown>, opts?: { issuer?: string; audience?: string }) => Promise<string>;
const ISSUER = 'https://idp.hospital.example/realms/it';
const AUDIENCE = 'ficus-admin';

beforeAll(async () => {
  db = await createTestDatabase(inject('databaseUrl'), 'admin_auth');
  legacy = await startTestUpstream('legacy');
  // an identity provider's key set, made here
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  jwksServer = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', () => r()));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks.json`;
  sign = (claims, opts = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
      .setIssuer(opts.issuer ?? ISSUER)
      .setAudience(opts.audience ?? AUDIENCE)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
  gw = await startStoreGateway({
    storeUrl: db.url,
    files: seedRules(legacy.url, legacy.url),
    env: { FICUS_OIDC_ISSUER: ISSUER, FICUS_OIDC_AUDIENCE: AUDIENCE, FICUS_OIDC_JWKS_URL: jwksUrl, FICUS_OIDC_ROLE_CLAIM: 'roles' },
  });
});
afterAll(async () => {
  await gw?.close();
  await legacy?.close();
  jwksServer?.close();
  await db?.drop();
});

/** moves a token's end to the past, as the clock would */
async function expire(id: number): Promise<void> {
  const pool = new pg.Pool({ connectionString: db.url, max: 1 });
  try {
    await pool.query("UPDATE api_tokens SET expires_at = clock_timestamp() - interval '1 second' WHERE id = $1", [id]);
  } finally {
    await pool.end();
  }
}

const flipBody = (reason: string) => ({ mode: 'canary', percent: 5, reason, baseVersion: 1 });

async function auditFor(reason: string) {
  const r = await adminClient(gw.adminUrl).get<{ entries: Record<string, unknown>[] }>('/api/audit?limit=50');
  return r.body.entries.filter((e) => e.reason === reason);
}

describe('authentication, roles and audit', () => {
  it('refuses a write without a token (401, problem body, WWW-Authenticate) and audits it', async () => {
    const res = await fetch(gw.adminUrl + '/api/rules/patients-read/flip', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(flipBody('no token')) });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({ status: 401, type: 'https://ficus.dev/problems/unauthorized' });
    expect(await auditFor('no token')).toEqual([
      expect.objectContaining({ actor: 'anonymous', auth: 'none', action: 'rules.flip', target: 'patients-read', outcome: 'denied', status: 401, sourceIp: '127.0.0.1' }),
    ]);
    expect((await fetch(gw.adminUrl + '/api/rules')).status).toBe(401);
  });

  it('names the caller of a write whose body was refused before the caller was checked (malformed JSON)', async () => {
    const res = await fetch(gw.adminUrl + '/api/rules/patients-read/flip', { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` }, body: '{"mode": "canary", "percent": 5, ' });
    expect(res.status).toBe(400);
    // the entry of a refused write is written once its answer is out: look until it is there
    let entry: Record<string, unknown> | undefined;
    for (let i = 0; i < 50 && !entry; i++) {
      const r = await adminClient(gw.adminUrl).get<{ entries: Record<string, unknown>[] }>('/api/audit?limit=5');
      entry = r.body.entries.find((e) => e.status === 400 && e.action === 'rules.flip');
      if (!entry) await new Promise((done) => setTimeout(done, 100));
    }
    expect(entry).toMatchObject({ actor: 'token:first-admin', auth: 'token', outcome: 'refused' });
  });

  it('lets a viewer read but not flip (403, audited), an operator flip, and stores tokens hashed', async () => {
    const admin = adminClient(gw.adminUrl);
    const viewer = await admin.post<{ token: string; id: number }>('/api/tokens', { name: 'ward-viewer', role: 'viewer', reason: 'dashboard' });
    expect(viewer.status).toBe(201);
    expect(viewer.body.token).toMatch(/^ficus_/);
    const v = adminClient(gw.adminUrl, viewer.body.token);
    expect((await v.get('/api/rules')).status).toBe(200);
    const denied = await v.post('/api/rules/patients-read/flip', flipBody('viewer tries'));
    expect(denied.status).toBe(403);
    expect(await auditFor('viewer tries')).toEqual([expect.objectContaining({ actor: 'token:ward-viewer', role: 'viewer', auth: 'token', outcome: 'denied', status: 403 })]);
    // tokens are read back without their secret, and stored as scrypt hashes only
    const list = await admin.get<{ tokens: Record<string, unknown>[] }>('/api/tokens');
    expect(list.body.tokens.every((t) => !('token' in t) && !('hash' in t))).toBe(true);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query<{ hash: string }>('SELECT hash FROM api_tokens');
    await client.end();
    expect(rows.every((r) => r.hash.startsWith('scrypt$') && !r.hash.includes(viewer.body.token) && !r.hash.includes(ADMIN_TOKEN))).toBe(true);

    const operator = await admin.post<{ token: string }>('/api/tokens', { name: 'night-operator', role: 'operator' });
    const o = adminClient(gw.adminUrl, operator.body.token);
    const flipped = await o.post<{ version: number }>('/api/rules/patients-read/flip', flipBody('operator flips'));
    expect(flipped.status).toBe(200);
    expect(await auditFor('operator flips')).toEqual([expect.objectContaining({ actor: 'token:night-operator', outcome: 'ok', status: 200, version: flipped.body.version })]);
    // an operator may not make tokens
    expect((await o.post('/api/tokens', { name: 'x', role: 'admin' })).status).toBe(403);
  });

  it('stops a revoked token at once (401), and audits the revocation and the refused use', async () => {
    const admin = adminClient(gw.adminUrl);
    const made = await admin.post<{ token: string; id: number }>('/api/tokens', { name: 'temp-contractor', role: 'operator' });
    const t = adminClient(gw.adminUrl, made.body.token);
    expect((await t.get('/api/rules')).status).toBe(200);
    expect((await admin.del(`/api/tokens/${made.body.id}`)).status).toBe(200);
    expect((await t.get('/api/rules')).status).toBe(401);
    const current = (await admin.get<{ version: number }>('/api/rules')).body.version;
    const refused = await t.post('/api/rules/patients-read/flip', { mode: 'legacy', reason: 'revoked tries', baseVersion: current });
    expect(refused.status).toBe(401);
    expect(await auditFor('revoked tries')).toEqual([expect.objectContaining({ outcome: 'denied', status: 401, detail: { why: 'the token was revoked: ask an admin for a new one' } })]);
    const revocations = await admin.get<{ entries: Record<string, unknown>[] }>('/api/audit?action=tokens.revoke');
    expect(revocations.body.entries[0]).toMatchObject({ actor: 'token:first-admin', target: `token ${made.body.id}`, outcome: 'ok', detail: { name: 'temp-contractor' } });
  });

  it('ends a token made with an end by itself: 401 saying it expired, its name free again, and it is no admin to keep', async () => {
    const admin = adminClient(gw.adminUrl);
    const inOneHour = new Date(Date.now() + 3_600_000).toISOString();
    const made = await admin.post<{ token: string; id: number; expiresAt: string }>('/api/tokens', { name: 'week-contractor', role: 'operator', reason: 'migration week', expiresAt: inOneHour });
    expect(made.status).toBe(201);
    expect(made.body.expiresAt).toBe(inOneHour);
    const contractor = adminClient(gw.adminUrl, made.body.token);
    expect((await contractor.get('/api/rules')).status).toBe(200);
    // the week ends (the row's end moved to the past, as the clock would)
    await expire(made.body.id);
    const after = await contractor.get<{ detail: string }>('/api/rules');
    expect(after.status).toBe(401);
    expect(after.body.detail).toContain('the token has expired');
    const listed = (await admin.get<{ tokens: { id: number; expiresAt?: string; revokedAt?: string }[] }>('/api/tokens')).body.tokens.find((t) => t.id === made.body.id);
    expect(listed).toMatchObject({ expiresAt: expect.any(String) as unknown });
    expect(listed?.revokedAt).toBeUndefined();
    // an expired token no longer holds its name
    const again = await admin.post<{ id: number }>('/api/tokens', { name: 'week-contractor', role: 'viewer', reason: 'next week' });
    expect(again.status).toBe(201);
    // an end in the past makes a token that never works: refused, and audited
    const past = await admin.post<{ detail: string }>('/api/tokens', { name: 'never-works', role: 'viewer', reason: 'typo in the date', expiresAt: '2020-01-01T00:00:00Z' });
    expect(past.status).toBe(400);
    expect(past.body.detail).toContain('is not in the future');
    expect(await auditFor('typo in the date')).toEqual([expect.objectContaining({ action: 'tokens.create', outcome: 'refused', status: 400 })]);
    // an expired admin token is no admin to keep: the last active one stays protected
    const temp = await admin.post<{ token: string; id: number }>('/api/tokens', { name: 'temp-admin', role: 'admin', expiresAt: inOneHour });
    await expire(temp.body.id);
    const firstAdmin = (await admin.get<{ tokens: { id: number; name: string }[] }>('/api/tokens')).body.tokens.find((t) => t.name === 'first-admin')!;
    expect((await admin.del(`/api/tokens/${firstAdmin.id}`)).status).toBe(409);
    // an expired token may still be revoked (its row then says who ended it)
    expect((await admin.del(`/api/tokens/${temp.body.id}`)).status).toBe(200);
  });

  it('refuses a second active token of the same name (409), and names the token that acted in the audit log', async () => {
    const admin = adminClient(gw.adminUrl);
    const first = await admin.post<{ token: string; id: number }>('/api/tokens', { name: 'shift-operator', role: 'operator', reason: 'night shift' });
    expect(first.status).toBe(201);
    const twice = await admin.post<{ type: string; detail: string }>('/api/tokens', { name: 'shift-operator', role: 'viewer', reason: 'again' });
    expect(twice.status).toBe(409);
    expect(twice.body.type).toBe('https://ficus.dev/problems/token-name-taken');
    expect(twice.body.detail).toBe(`an active token is already named "shift-operator" (token ${first.body.id}): choose another name, or revoke that one first`);
    expect(await auditFor('again')).toEqual([expect.objectContaining({ action: 'tokens.create', outcome: 'conflict', status: 409 })]);
    expect((await admin.get<{ tokens: { name: string }[] }>('/api/tokens')).body.tokens.filter((t) => t.name === 'shift-operator')).toHaveLength(1);

    // a revoked token's name may be given again: the audit log tells the two apart by id
    const base = async () => (await admin.get<{ version: number }>('/api/rules')).body.version;
    expect((await adminClient(gw.adminUrl, first.body.token).post('/api/rules/patients-read/flip', { mode: 'legacy', reason: 'first shift', baseVersion: await base() })).status).toBe(200);
    expect((await admin.del(`/api/tokens/${first.body.id}`)).status).toBe(200);
    const second = await admin.post<{ token: string; id: number }>('/api/tokens', { name: 'shift-operator', role: 'operator', reason: 'day shift' });
    expect(second.status).toBe(201);
    expect((await adminClient(gw.adminUrl, second.body.token).post('/api/rules/patients-read/flip', { mode: 'canary', percent: 5, reason: 'second shift', baseVersion: await base() })).status).toBe(200);
    expect(await auditFor('first shift')).toEqual([expect.objectContaining({ actor: 'token:shift-operator', tokenId: first.body.id, outcome: 'ok' })]);
    expect(await auditFor('second shift')).toEqual([expect.objectContaining({ actor: 'token:shift-operator', tokenId: second.body.id, outcome: 'ok' })]);
    const bySecond = await admin.get<{ entries: { reason: string; detail: Record<string, unknown> }[] }>(`/api/audit?tokenId=${second.body.id}`);
    expect(bySecond.body.entries.map((e) => e.reason)).toEqual(['second shift']);
    // the id is the entry's, not part of its detail
    expect(bySecond.body.entries[0]!.detail).not.toHaveProperty('actorTokenId');
  });

  it('refuses to revoke the last active admin token (409), and revokes an admin token while another is left', async () => {
    const admin = adminClient(gw.adminUrl);
    const tokens = (await admin.get<{ tokens: { id: number; name: string; role: string; revokedAt?: string }[] }>('/api/tokens')).body.tokens;
    const firstAdmin = tokens.find((t) => t.name === 'first-admin')!;
    expect(tokens.filter((t) => t.role === 'admin' && !t.revokedAt)).toHaveLength(1);
    const alone = await admin.call<{ type: string; detail: string }>('DELETE', `/api/tokens/${firstAdmin.id}?reason=${encodeURIComponent('leaving')}`);
    expect(alone.status).toBe(409);
    expect(alone.body.type).toBe('https://ficus.dev/problems/last-admin-token');
    expect(alone.body.detail).toBe(`token ${firstAdmin.id} is the last active admin token: revoking it would leave nobody able to manage tokens; make another admin token first`);
    expect(await auditFor('leaving')).toEqual([expect.objectContaining({ action: 'tokens.revoke', outcome: 'conflict', status: 409 })]);
    expect((await admin.get('/api/tokens')).status).toBe(200);

    const deputy = await admin.post<{ token: string; id: number }>('/api/tokens', { name: 'deputy-admin', role: 'admin' });
    const d = adminClient(gw.adminUrl, deputy.body.token);
    expect((await d.del(`/api/tokens/${deputy.body.id}`)).status).toBe(200);
    expect((await d.get('/api/tokens')).status).toBe(401);
    expect((await admin.del(`/api/tokens/${firstAdmin.id}`)).status).toBe(409);
  });

  it('accepts JWTs from the configured identity provider, with the role from a claim', async () => {
    const viewerJwt = await sign({ sub: 'u123', preferred_username: 'nurse.manager', roles: ['viewer'] });
    expect((await adminClient(gw.adminUrl, viewerJwt).get('/api/rules')).status).toBe(200);
    const operatorJwt = await sign({ sub: 'u456', preferred_username: 'integration.lead', roles: ['viewer', 'operator'] });
    const base = (await adminClient(gw.adminUrl).get<{ version: number }>('/api/rules')).body.version;
    const r = await adminClient(gw.adminUrl, operatorJwt).post('/api/rules/patients-read/flip', { mode: 'legacy', reason: 'jwt flip', baseVersion: base });
    expect(r.status).toBe(200);
    expect(await auditFor('jwt flip')).toEqual([expect.objectContaining({ actor: 'jwt:integration.lead', auth: 'jwt', role: 'operator', outcome: 'ok' })]);

    for (const bad of [
      await sign({ sub: 'x', roles: ['admin'] }, { issuer: 'https://evil.example' }),
      await sign({ sub: 'x', roles: ['admin'] }, { audience: 'someone-else' }),
      await sign({ sub: 'x', roles: ['janitor'] }),
    ]) {
      expect((await adminClient(gw.adminUrl, bad).get('/api/rules')).status).toBe(401);
    }
  });

  it('cannot alter the audit log, even with database access', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await expect(client.query('DELETE FROM audit_log')).rejects.toThrow(/append-only/);
    await expect(client.query("UPDATE rule_versions SET reason = 'rewritten'")).rejects.toThrow(/immutable/);
    await client.end();
  });
});
