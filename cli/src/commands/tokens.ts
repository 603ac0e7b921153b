/**
 * `ficus tokens create | list | revoke`: the admin API's bearer tokens (an admin's business).
 */
import { Option, type Command } from 'commander';
import type { NewToken, TokenInfo } from '../api-types.js';
import { contextOf } from '../context.js';
import * as parse from '../option-parsers.js';
import { fields, note, printResult, table } from '../output.js';

const ROLES = ['viewer', 'operator', 'admin'] as const;

/** an end already past says so: such a token is refused like a revoked one */
const expiresCell = (t: TokenInfo, now = Date.now()) => (t.expiresAt === undefined ? '' : Date.parse(t.expiresAt) <= now ? `${t.expiresAt} (expired)` : t.expiresAt);

export function addTokenCommands(program: Command): void {
  const tokens = program.command('tokens').description('bearer tokens of the admin API (needs the admin role)');

  tokens
    .command('create')
    .description('make a token; its secret is printed this once and cannot be shown again')
    .argument('<name>', 'who or what uses it (letters, digits, . _ @ -; at most 64)')
    .addOption(new Option('--role <role>', 'viewer: read; operator: flip and roll back; admin: everything').choices(ROLES).makeOptionMandatory())
    .option('--expires <when>', 'when it stops working by itself: a lifetime (12h, 30d, 12w) or an ISO 8601 time; default: only a revocation ends it', (v) => parse.expiry(v))
    .option('--reason <text>', 'why (kept in the audit log)', parse.reason)
    .action(async (name: string, opts: { role: string; reason?: string; expires?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await ctx.client().post<NewToken>('/api/tokens', { name, role: opts.role, reason: opts.reason, ...(opts.expires ? { expiresAt: opts.expires } : {}) });
      if (!ctx.json) note('The secret below is shown this once: store it now (FICUS_TOKEN, or "token" in the config file).');
      printResult(ctx.json, r, () => fields([['id', r.id], ['name', r.name], ['role', r.role], ['expires', r.expiresAt ?? 'never (until revoked)'], ['token', r.token]]));
    });

  tokens
    .command('list')
    .description('the tokens, revoked ones included (never their secrets)')
    .action(async (_opts, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await ctx.client().get<{ tokens: TokenInfo[] }>('/api/tokens');
      printResult(ctx.json, r, () =>
        table(
          ['id', 'name', 'role', 'created', 'created by', 'last used', 'expires', 'revoked'],
          r.tokens.map((t) => [t.id, t.name, t.role, t.createdAt, t.createdBy, t.lastUsedAt, expiresCell(t), t.revokedAt ? `${t.revokedAt} by ${t.revokedBy ?? '?'}` : '']),
        ),
      );
    });

  tokens
    .command('revoke')
    .description('revoke a token: it stops working at once')
    .argument('<id>', 'the token id (see `ficus tokens list`)', parse.integer(1))
    .option('--reason <text>', 'why (kept in the audit log)')
    .action(async (id: number, opts: { reason?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const query = opts.reason ? `?reason=${encodeURIComponent(opts.reason)}` : '';
      const r = await ctx.client().delete<TokenInfo>(`/api/tokens/${id}${query}`);
      printResult(ctx.json, r, () => `revoked token ${r.id} (${r.name}, ${r.role})`);
    });
}
