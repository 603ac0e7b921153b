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

const bytes = (n: number | null) => (n === null ? null : n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`);

export function addCdcCommands(program: Command): void {
  const cdc = program.command('cdc').description('change-data capture of the legacy database, and write-back');
  cdc
    .command('status')
    .description('state, lag and rate of each CDC source, and the write-back')
    .option('--strict', 'exit 1 unless every source is streaming (for scripts and checks)')
    .action(async (opts: { strict?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await ctx.client().get<CdcStatus>('/api/cdc/status');
      printResult(ctx.json, r, () => {
        const lines = [
          table(
            ['source', 'kind', 'state', 'lag', 'lag ms', 'last position', 'last commit', 'changes/s'],
            r.sources.map((s) => [s.name, s.kind, s.state, bytes(s.lagBytes), s.lagMs, s.lastPosition, s.lastCommitAt, s.changesPerSecond]),
          ),
        ];
        for (const s of r.sources) if (s.error) lines.push(`${s.name}: ${s.error}`);
        const wb = r.writeback;
        if (wb?.enabled) {
          lines.push('', table(['write-back from', 'applied', 'last applied'], wb.services.map((s) => [s.name, s.applied, s.lastAppliedAt])));
          if (wb.deadLetters) lines.push(`${wb.deadLetters} write-back job(s) dead-lettered: the legacy database refused them (ficus queues dead-letters --channel cdc)`);
        } else if (wb) {
          lines.push('', 'write-back: off');
        }
        return lines;
      });
      const stopped = r.sources.filter((s) => s.state !== 'streaming');
      if (opts.strict && stopped.length > 0) throw new CliFailure(`not streaming: ${stopped.map((s) => `${s.name} (${s.state})`).join(', ')}`);
    });
}
