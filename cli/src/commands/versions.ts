/**
 * `ficus rules versions | diff | rollback`: the history of the rule set and going back in it.
 */
import type { Command } from 'commander';
import type { FieldChange, RollbackAnswer, VersionDiff, VersionList } from '../api-types.js';
import { contextOf } from '../context.js';
import * as parse from '../option-parsers.js';
import { printResult, table } from '../output.js';

const show = (v: unknown) => (v === undefined ? '(none)' : JSON.stringify(v));

function changeLines(changes: FieldChange[]): string[] {
  return changes.map((c) => `    ${c.field}: ${show(c.from)} → ${show(c.to)}`);
}

export function diffText(d: VersionDiff): string[] {
  const { rules, upstreams, identical } = d.diff;
  if (identical) return [`versions ${d.from} and ${d.to} route the same`];
  const lines = [`from version ${d.from} to version ${d.to}:`];
  for (const r of rules.added) lines.push(`  + rule ${r.id} (#${r.index + 1})`);
  for (const r of rules.removed) lines.push(`  - rule ${r.id} (was #${r.index + 1})`);
  for (const r of rules.moved) lines.push(`  ~ rule ${r.id} moved from #${r.from + 1} to #${r.to + 1}`);
  for (const r of rules.changed) lines.push(`  ~ rule ${r.id}`, ...changeLines(r.changes));
  for (const u of upstreams.added) lines.push(`  + upstream ${u}`);
  for (const u of upstreams.removed) lines.push(`  - upstream ${u}`);
  for (const u of upstreams.changed) lines.push(`  ~ upstream ${u.name}`, ...changeLines(u.changes));
  return lines;
}

export function addVersionCommands(rules: Command): void {
  rules
    .command('versions')
    .description('the versions of the rule set, newest first')
    .option('--limit <n>', 'how many (1-500)', parse.integer(1, 500), 50)
    .option('--before <version>', 'only versions older than this one (paging)', parse.version)
    .action(async (opts: { limit: number; before?: number }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await ctx.client().get<VersionList>('/api/versions', { limit: opts.limit, before: opts.before });
      printResult(ctx.json, r, () =>
        table(
          ['version', 'created', 'author', 'kind', 'summary', 'reason'],
          r.versions.map((v) => [`${v.version}${v.version === r.current ? ' *' : ''}`, v.createdAt, v.author, v.change.forced ? `${v.change.kind}, forced` : v.change.kind, v.change.summary, v.reason]),
        ),
      );
    });

  rules
    .command('diff')
    .description('what changed from version a to version b')
    .argument('<a>', 'the older version', parse.version)
    .argument('<b>', 'the newer version', parse.version)
    .action(async (a: number, b: number, _opts, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await ctx.client().get<VersionDiff>(`/api/versions/${a}/diff/${b}`);
      printResult(ctx.json, r, () => diffText(r));
    });

  rules
    .command('rollback')
    .description('make a new version whose rules are those of an earlier one')
    .argument('<version>', 'the version to go back to', parse.version)
    .requiredOption('--reason <text>', 'why (kept in the version history and the audit log)', parse.reason)
    .option('--base <version>', 'the version this change starts from (default: the current one)', parse.baseVersion)
    .option('--force', 'go past a closed parity gate (role admin; the reason says why, and the audit log marks it as forced)')
    .option('--allow-removal', 'go back even though the version has no HTTP rules, no HL7 rules, or no catch-all where the current rules have them (role admin; recorded on the version and in the audit log)')
    .addHelpText(
      'after',
      '\nA rule the rollback moves toward the new service (to new, or a canary above its gated percent)\nneeds its parity gate, as `rules flip` does; moving rules back toward legacy never does.',
    )
    .action(async (version: number, opts: { reason: string; base?: number; force?: boolean; allowRemoval?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const client = ctx.client();
      const baseVersion = opts.base ?? (await client.currentVersion());
      const r = await client.post<RollbackAnswer>('/api/rollback', { version, reason: opts.reason, baseVersion, ...(opts.force ? { force: true } : {}), ...(opts.allowRemoval ? { allowRemoval: true } : {}) });
      printResult(ctx.json, r, () =>
        r.changed ? `version ${r.version}: ${r.change.summary} (from version ${baseVersion})` : `no change: version ${r.version} already routes as version ${version} did`,
      );
    });
}
