/**
 * The gateway's first admin token at start: FICUS_ADMIN_TOKEN when it is set (stored hashed;
 * when its value changed, the token the environment gave before is revoked), else one made
 * when the store has no token at all, written to a file only the gateway's user reads.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type pg from 'pg';
import type { Logger } from '../logger.js';
import type { AuditEntry, AuditLog } from './audit-log.js';
import { FROM_ENVIRONMENT, type EnvTokenOutcome, type TokenStore } from './token-store.js';

export const FIRST_ADMIN = 'first-admin';

/** the audit log's actor for what the start does on the environment's behalf */
const ACTOR = { actor: FROM_ENVIRONMENT, auth: 'environment', role: 'admin' } as const;

function auditEntries(outcome: EnvTokenOutcome): AuditEntry[] {
  if (outcome.kind !== 'created' && outcome.kind !== 'present') return [];
  const entries: AuditEntry[] = [];
  if (outcome.kind === 'created') {
    entries.push({ ...ACTOR, action: 'tokens.create', target: `token ${outcome.token.name}`, reason: 'stored from FICUS_ADMIN_TOKEN at start', outcome: 'ok', status: 201, detail: { id: outcome.token.id, role: 'admin' } });
  }
  for (const old of outcome.replaced) {
    entries.push({
      ...ACTOR,
      action: 'tokens.revoke',
      target: `token ${old.id}`,
      reason: 'FICUS_ADMIN_TOKEN changed: the token it held before is revoked',
      outcome: 'ok',
      status: 200,
      detail: { name: old.name, replacedBy: outcome.token.id },
    });
  }
  return entries;
}

export async function firstAdminToken(o: { tokens: TokenStore; audit: AuditLog; adminToken: string | undefined; stateDir: string; log: Logger }): Promise<void> {
  if (o.adminToken) return environmentToken(o.tokens, o.audit, o.adminToken, o.log);
  const made = await o.tokens.createFirst(FIRST_ADMIN, 'admin', 'bootstrap');
  if (!made) return;
  mkdirSync(o.stateDir, { recursive: true });
  const file = path.join(o.stateDir, 'first-admin-token');
  writeFileSync(file, made.token + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  // the secret goes to a file only the gateway's user can read, never to the log
  o.log.warn({ file }, 'no admin token existed: made one and wrote it to this file (read it, then delete the file)');
}

async function environmentToken(tokens: TokenStore, audit: AuditLog, secret: string, log: Logger): Promise<void> {
  const write = async (tx: pg.PoolClient, outcome: EnvTokenOutcome) => {
    for (const e of auditEntries(outcome)) await audit.append(e, tx);
  };
  const outcome = await tokens.storeEnvironmentToken(secret, FIRST_ADMIN, write);
  // ids and names only, never the secret (fields named so that the log's redaction of
  // `*.name` and `*.token` leaves them readable)
  const token = outcome.kind === 'collision' ? {} : { tokenId: outcome.token.id, tokenName: outcome.token.name };
  switch (outcome.kind) {
    case 'created':
    case 'present': {
      if (outcome.kind === 'created') log.info(token, 'stored the admin token from FICUS_ADMIN_TOKEN');
      if (outcome.replaced.length === 0) return;
      const revoked = { revokedIds: outcome.replaced.map((t) => t.id), revokedNames: outcome.replaced.map((t) => t.name) };
      log.warn({ ...token, ...revoked }, 'FICUS_ADMIN_TOKEN changed: revoked the admin token it held before (audited as tokens.revoke)');
      return;
    }
    case 'revoked':
      log.warn(token, 'FICUS_ADMIN_TOKEN holds a revoked token: it stays revoked and does not work; set a new value');
      return;
    case 'not-admin':
      log.warn({ ...token, role: outcome.token.role }, 'FICUS_ADMIN_TOKEN holds an active token that is not an admin token: left as it is');
      return;
    case 'collision':
      log.error('FICUS_ADMIN_TOKEN cannot be stored: another token has the same lookup key; choose another value');
  }
}
