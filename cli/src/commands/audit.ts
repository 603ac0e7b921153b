/**
 * `ficus audit`: who changed what, when and why, refused and denied attempts included.
 */
import { Option, type Command } from 'commander';
import type { AuditRecord } from '../api-types.js';
import { contextOf } from '../context.js';
import * as parse from '../option-parsers.js';
import { printResult, table } from '../output.js';

const OUTCOMES = ['ok', 'refused', 'denied', 'conflict', 'error'] as const;

interface AuditOptions {
  actor?: string;
  action?: string;
  outcome?: string;
  target?: string;
  since?: string;
  until?: string;
  limit: number;
}

export function addAuditCommand(program: Command): void {
  program
    .command('audit')
    .description('the audit log, newest first')
    .option('--actor <actor>', 'only this actor (token:<name>, token:<name>#<id> for one token of that name, jwt:<user>, anonymous)')
    .option('--action <action>', 'only this action (rules.flip, rules.import, rules.apply, rules.rollback, tokens.create, tokens.revoke, hl7.replay, hl7.view, hl7.dead-letter.replay, hl7.dead-letter.replay-all, hl7.dead-letter.discard, cdc.dead-letter.replay, cdc.dead-letter.replay-all, cdc.dead-letter.discard)')
    .addOption(new Option('--outcome <outcome>', 'only this outcome').choices(OUTCOMES))
    .option('--target <target>', 'only this target (a rule id, "rule-set", "version <n>", "token <id> (<name>)")')
    .option('--since <time>', 'from this time on: ISO 8601, or an age such as 2h, 7d', (v) => parse.instant(v))
    .option('--until <time>', 'before this time: ISO 8601, or an age', (v) => parse.instant(v))
    .option('--limit <n>', 'how many entries (1-1000)', parse.integer(1, 1000), 100)
    .action(async (opts: AuditOptions, cmd: Command) => {
      const ctx = contextOf(cmd);
      const { action, outcome, target, since, until, limit } = opts;
      const r = await ctx.client().get<{ entries: AuditRecord[] }>('/api/audit', { ...actorQuery(opts.actor), action, outcome, target, since, until, limit });
      printResult(ctx.json, r, () =>
        r.entries.length === 0
          ? 'no audit entries match'
          : table(
              ['id', 'at', 'actor', 'action', 'target', 'outcome', 'status', 'version', 'reason'],
              r.entries.map((e) => [e.id, e.at, actorOf(e), e.action, e.target, outcomeOf(e), e.status, e.version, e.reason]),
            ),
      );
    });
}

/** A change an admin forced past a closed parity gate reads `ok, forced`: before, only --json told it from any other. */
const outcomeOf = (e: AuditRecord): string => (e.detail?.forced === true ? `${e.outcome}, forced` : e.outcome);

/** A token's name may have been another token's before: the table says which one acted, as `token:<name>#<id>`. */
const actorOf = (e: AuditRecord): string => (e.tokenId === undefined ? e.actor : `${e.actor}#${e.tokenId}`);

/** `--actor` as the table shows it: `token:<name>#<id>` is that name and that token. */
function actorQuery(actor: string | undefined): { actor?: string; tokenId?: number } {
  const m = actor === undefined ? null : /^(token:.+)#(\d+)$/.exec(actor);
  if (!m) return actor === undefined ? {} : { actor };
  return { actor: m[1]!, tokenId: Number(m[2]) };
}
