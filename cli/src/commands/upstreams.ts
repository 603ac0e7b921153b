/**
 * `ficus upstreams`: what the gateway instance answering the admin API sends to, as it sees it:
 * each upstream's address (an environment override included, which `rules list` cannot show),
 * health, circuit state with since when and why, the rules an open circuit affects, and the
 * emergency override file the instance applies, with the rules it holds in legacy.
 */
import type { Command } from 'commander';
import type { UpstreamsView } from '../api-types.js';
import { contextOf } from '../context.js';
import { printResult, table } from '../output.js';

/** The instance's emergency override file: without it, a rule flipped to new whose target gets nothing looked like a fault. */
function emergencyLines(r: UpstreamsView): string[] {
  const e = r.emergency;
  if (!e) return [];
  const who = e.by ? ` by ${e.by}` : '';
  const why = e.reason ? `: ${e.reason}` : '';
  return [`EMERGENCY OVERRIDE: ${e.file} in force on this instance since ${e.since}${who}${why}; rules held in legacy whatever the rule store says: ${e.pinned.length > 0 ? e.pinned.join(', ') : 'none of its HTTP rules'}`, ''];
}

export function upstreamsText(r: UpstreamsView): string[] {
  const head = ['upstream', 'url', 'health', 'circuit', 'last health-check error'];
  const rows = r.upstreams.map((u) => [u.name, u.url, u.health, `${u.circuit.state} since ${u.circuit.since}${u.circuit.reason ? `: ${u.circuit.reason}` : ''}`, u.lastError ?? '']);
  if (r.emergency) {
    head.push('held in legacy (emergency)');
    r.upstreams.forEach((u, i) => rows[i]!.push([...new Set((u.rules ?? []).filter((x) => x.emergency).map((x) => x.id))].join(', ')));
  }
  const warnings = r.upstreams.flatMap((u) => u.warnings.map((w) => `warning: ${w.text}`));
  return [
    `gateway instance ${r.instance.hostname} (pid ${r.instance.pid}), rules ${r.rules.source}${r.rules.version === null ? '' : ` version ${r.rules.version}`} (${r.rules.state})`,
    '',
    ...emergencyLines(r),
    table(head, rows),
    ...(warnings.length ? ['', ...warnings] : []),
  ];
}

export function addUpstreamsCommand(program: Command): void {
  program
    .command('upstreams')
    .description("the upstreams of the gateway instance that answers: address in use, health, circuit state, the rules an open circuit affects, and those its emergency override file holds in legacy")
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await ctx.client().get<UpstreamsView>('/api/upstreams');
      printResult(ctx.json, r, () => upstreamsText(r));
    });
}
