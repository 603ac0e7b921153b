/**
 * `ficus cdc status`: where change-data capture of the legacy database stands: per source its
 * state, lag, last position and rate, and the write-back. The admin API forwards /api/cdc/* to
 * the CDC deployable (same tokens and roles; viewer is enough).
 */
import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { CliFailure } from '../failures.js';
import { printResult, table } from '../output.js';
import type { CdcStatus } from '@ficus/contracts/api';

const NONE_YET = 'none since start';

const bytes = (n: number | null) => (n === null ? null : n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);

/** What the services did with the changes: a batch one gave up on leaves its copy of those rows stale. */
function consumerLines(r: CdcStatus): string[] {
  const dead = r.consumerDeadLetters;
  if (dead === undefined) return [];
  if (dead === null) return ['', "services' change queues: unknown (Redis did not answer)"];
  const stuck = dead.filter((d) => d.count > 0);
  if (stuck.length === 0) return ['', "services' change queues: no dead letters"];
  return [
    '',
    table(['change queues', 'dead letters'], stuck.map((d) => [`${d.prefix}.p*`, d.count])),
    "a service gave up on these change batches: its copy of their rows is stale until they are replayed (ficus queues dead-letters --channel cdc)",
  ];
}

/** the foreign keys a parent wait is for, by name (no values) */
const foreignKeys = (fks: NonNullable<CdcStatus['writeback']['services'][number]['parentWaits']>[number]['foreignKeys']) =>
  fks.length === 0 ? 'a foreign key' : fks.map((k) => `foreign key ${k.constraint} of ${k.table}${k.parentTable ? `, wanting a row of ${k.parentTable}` : ''}`).join('; ');

/** What holds the write-back back, or keeps legacy edits over it: a log line alone left the operator guessing. */
function writebackHoldLines(wb: CdcStatus['writeback']): string[] {
  const lines: string[] = [];
  for (const s of wb.services) {
    for (const h of s.goneRows ?? []) {
      lines.push(
        `write-back from ${s.name} held on partition ${h.partition} since ${h.since}: ${h.rows} update(s) of ${h.topics.join(', ')} whose legacy row is gone (its key changed there, or it was deleted); waiting for ${h.waitingFor}; from ${h.until} on, those still waiting are dead-lettered as not known (at their next try)`,
      );
    }
    for (const h of s.parentWaits ?? []) {
      lines.push(
        `write-back from ${s.name} held on partition ${h.partition} since ${h.since}: ${h.rows} row(s) of ${h.topics.join(', ')} the legacy refuses until their parent row is there (${foreignKeys(h.foreignKeys)}); from ${h.until} on, those still refused are dead-lettered (at their next try)`,
      );
    }
  }
  const e = wb.emergency;
  if (e) {
    const who = e.by ? ` by ${e.by}` : '';
    const why = e.reason ? `: ${e.reason}` : '';
    const rules = e.rules === 'all' ? 'all' : e.rules.join(', ');
    const held = e.services.length > 0 ? `the legacy holds the record of ${e.services.map((s) => `${s.name} (${s.rule})`).join(', ')}: a legacy edit of a field the service changed too stays` : "it holds no write-back service's record";
    lines.push(`EMERGENCY OVERRIDE: ${e.file} (rules: ${rules}) in force since ${e.since}${who}${why}; ${held}`);
  }
  return lines.length > 0 ? ['', ...lines] : [];
}

/** Why `--strict` fails: a source not streaming, changes Redis does not take, or changes that did not arrive where they should. */
function strictProblems(r: CdcStatus): string[] {
  const problems: string[] = [];
  const stopped = r.sources.filter((s) => s.state !== 'streaming');
  if (stopped.length > 0) problems.push(`not streaming: ${stopped.map((s) => `${s.name} (${s.state})`).join(', ')}`);
  // streaming into memory while Redis takes nothing: no service gets a change
  if (r.enqueue) problems.push(`change events wait for Redis since ${r.enqueue.waitingSince}: ${r.enqueue.reason}`);
  const dead = r.consumerDeadLetters;
  if (dead === null) problems.push("the services' change queues could not be read (Redis did not answer)");
  const stuck = (dead ?? []).filter((d) => d.count > 0);
  if (stuck.length > 0) problems.push(`dead-lettered change batches: ${stuck.map((d) => `${d.prefix} (${d.count})`).join(', ')}`);
  const wb = r.writeback.deadLetters;
  if (r.writeback.enabled && wb) problems.push(`${wb} write-back job(s) dead-lettered`);
  return problems;
}

export function addCdcCommands(program: Command): void {
  const cdc = program.command('cdc').description('change-data capture of the legacy database, and write-back');
  cdc
    .command('status')
    .description('state, lag and rate of each CDC source, and the write-back')
    .option('--strict', 'exit 1 unless every source is streaming, Redis takes the changes and no change batch is dead-lettered (for scripts and checks)')
    .action(async (opts: { strict?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await ctx.client().get<CdcStatus>('/api/cdc/status');
      printResult(ctx.json, r, () => {
        const lines = [
          table(
            ['source', 'kind', 'state', 'lag', 'lag ms', 'last position', 'last commit', 'changes/s'],
            // a restarted CDC knows its place (the slot) but has read no change yet: not a blank
            r.sources.map((s) => [s.name, s.kind, s.state, bytes(s.lagBytes), s.lagMs, s.lastPosition ?? NONE_YET, s.lastCommitAt ?? NONE_YET, s.changesPerSecond]),
          ),
        ];
        for (const s of r.sources) if (s.error) lines.push(`${s.name}: ${s.error}`);
        const wb = r.writeback;
        if (wb?.enabled) {
          lines.push('', table(['write-back from', 'applied since start', 'last applied'], wb.services.map((s) => [s.name, s.applied, s.lastAppliedAt ?? NONE_YET])));
          if (wb.deadLetters === null) lines.push('write-back dead letters: unknown (Redis did not answer)');
          else if (wb.deadLetters) lines.push(`${wb.deadLetters} write-back job(s) dead-lettered: the legacy database refused them (ficus queues dead-letters --channel cdc)`);
          lines.push(...writebackHoldLines(wb));
        } else if (wb) {
          lines.push('', 'write-back: off');
        }
        lines.push(...consumerLines(r));
        if (r.warnings?.length) lines.push('', ...r.warnings.map((w) => `warning: ${w}`));
        return lines;
      });
      if (!opts.strict) return;
      const problems = strictProblems(r);
      if (problems.length > 0) throw new CliFailure(problems.join('; '));
    });
}
