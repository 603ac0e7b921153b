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
    .option('--actor <actor>', 'only this actor (token:<name>, jwt:<user>, anonymous)')
    .option('--action <action>', 'only this action (rules.flip, rules.import, rules.apply, rules.rollback, tokens.create, tokens.revoke, hl7.replay, hl7.view, hl7.dead-letter.replay, hl7.dead-letter.replay-all, hl7.dead-letter.discard, cdc.dead-letter.replay, cdc.dead-letter.replay-all, cdc.dead-letter.discard)')
    .addOption(new Option('--outcome <outcome>', 'only this outcome').choices(OUTCOMES))
    .option('--target <target>', 'only this target (a rule id, "rule-set", "version <n>", "token <id> (<name>)")')
    .option('--since <time>', 'from this time on: ISO 8601, or an age such as 2h, 7d', (v) => parse.instant(v))
    .option('--until <time>', 'before this time: ISO 8601, or an age', (v) => parse.instant(v))
    .option('--limit <n>', 'how many entries (1-1000)', parse.integer(1, 1000), 100)
    .action(async (opts: AuditOptions, cmd: Command) => {
      const ctx = contextOf(cmd);
      const { actor, action, outcome, target, since, until, limit } = opts;
      const r = await ctx.client().get<{ entries: AuditRecord[] }>('/api/audit', { actor, action, outcome, target, since, until, limit });
      printResult(ctx.json, r, () =>
        r.entries.length === 0
          ? 'no audit entries match'
          : table(
              ['id', 'at', 'actor', 'action', 'target', 'outcome', 'status', 'version', 'reason'],
              r.entries.map((e) => [e.id, e.at, e.actor, e.action, e.target, e.outcome, e.status, e.version, e.reason]),
            ),
      );
    });
}
