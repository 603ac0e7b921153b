/**
 * `ficus parity [rule]`: how well each new service answers like legacy (compared requests,
 * mismatches, parity 0..1; the same by key: distinct patients, those with a mismatch; the most
 * differing fields) and whether the flip gate is open.
 */
import type { Command } from 'commander';
import type { ParityAnswer, ParityFigures, RuleParity } from '../api-types.js';
import { contextOf } from '../context.js';
import * as parse from '../option-parsers.js';
import { fields, printResult, table } from '../output.js';

function percent(p: number | null): string {
  return p === null ? '-' : `${(p * 100).toFixed(2)} %`;
}

function gateText(f: ParityFigures): string {
  if (!f.gate) return 'not gated';
  const need = `needs ${percent(f.gate.threshold)} over ${f.gate.minCompared} requests and ${f.gate.minKeys} keys in ${f.gate.window}`;
  if (f.gate.open === null) return need;
  return `${f.gate.open ? 'open' : 'closed'} (${need})`;
}

export function addParityCommand(program: Command): void {
  program
    .command('parity')
    .description('parity between legacy and the new services, per rule (shadow mode and HL7 dual mode), and the flip gate')
    .argument('[rule]', 'one rule: its figures, top differing fields and recent mismatch samples')
    .option('--window <window>', "the window: any whole number of minutes, hours or days, as 15m, 2h, 24h, 7d (default: each rule's gate window, else 1h); the gate is open or closed only over its own window", parse.window)
    .option('--samples <n>', 'recent mismatch samples to show for one rule', (v) => Number(v), 5)
    .addHelpText('after', '\nParity is (compared - mismatches) / compared, 0..1; with nothing compared it is null (shown as -).\nParity by key is the same over distinct keys (patients): a key with any mismatch in the window counts as one mismatch.\n\nExamples:\n  ficus parity\n  ficus parity patients-read --window 2h\n  ficus parity patients-read --window 24h --json')
    .action(async (rule: string | undefined, opts: { window?: string; samples: number }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const client = ctx.client();
      if (rule) {
        const r = await client.get<RuleParity>(`/api/parity/${encodeURIComponent(rule)}`, { window: opts.window, samples: opts.samples });
        printResult(ctx.json, r, () => [
          ...fields([
            ['rule', r.rule],
            ['mode', r.mode],
            [`compared (${r.window})`, r.compared],
            ['mismatches', r.mismatches],
            ['parity', percent(r.parity)],
            ['keys', `${r.keys} distinct, ${r.mismatchedKeys} with a mismatch`],
            ['parity by key', percent(r.keyParity)],
            ['skipped', r.skipped],
            ['in total', `${r.total.compared} compared, ${r.total.mismatches} mismatches, ${percent(r.total.parity)}`],
            ['gate', gateText(r)],
          ]),
          '',
          r.topFields.length ? table(['differing field', 'count'], r.topFields.map((f) => [f.field, f.count])) : 'no differing fields in the window',
          // each diff as the gateway writes it (formatDiff), as the dashboard shows it: a number no
          // double holds as its digits, a repeated key with each of its values
          ...r.samples.flatMap((s) => ['', `# ${s.at} ${s.method ?? ''} ${s.route ?? ''} legacy ${s.legacyStatus ?? '-'} / new ${s.targetStatus ?? '-'}${s.redacted ? ' (values redacted)' : ''}`, ...s.text.split('\n')]),
        ]);
        return;
      }
      const r = await client.get<ParityAnswer>('/api/parity', { window: opts.window });
      // --json: the list of per-rule objects (rule, compared, mismatches, parity, window, topFields, gate...)
      printResult(ctx.json, r.rules, () =>
        r.rules.length === 0
          ? 'no rule is shadowed or gated yet'
          : table(
              ['rule', 'mode', 'window', 'compared', 'mismatches', 'parity', 'keys', 'mismatched keys', 'parity by key', 'top field', 'gate'],
              r.rules.map((f) => [f.rule, f.mode, f.window, f.compared, f.mismatches, percent(f.parity), f.keys, f.mismatchedKeys, percent(f.keyParity), f.topFields[0] ? `${f.topFields[0].field} (${f.topFields[0].count})` : '', gateText(f)]),
            ),
      );
    });
}
