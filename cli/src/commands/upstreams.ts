/**
 * `ficus upstreams`: what the gateway instance answering the admin API sends to, as it sees it:
 * each upstream's address (an environment override included, which `rules list` cannot show),
 * health, circuit state with since when and why, and the rules an open circuit affects.
 */
import type { Command } from 'commander';
import type { UpstreamsView } from '../api-types.js';
import { contextOf } from '../context.js';
import { printResult, table } from '../output.js';

export function upstreamsText(r: UpstreamsView): string[] {
  const rows = r.upstreams.map((u) => [u.name, u.url, u.health, `${u.circuit.state} since ${u.circuit.since}${u.circuit.reason ? `: ${u.circuit.reason}` : ''}`, u.lastError ?? '']);
  const warnings = r.upstreams.flatMap((u) => u.warnings.map((w) => `warning: ${w.text}`));
  return [`gateway instance ${r.instance.hostname} (pid ${r.instance.pid}), rules ${r.rules.source}${r.rules.version === null ? '' : ` version ${r.rules.version}`} (${r.rules.state})`, '', table(['upstream', 'url', 'health', 'circuit', 'last health-check error'], rows), ...(warnings.length ? ['', ...warnings] : [])];
}

export function addUpstreamsCommand(program: Command): void {
  program
    .command('upstreams')
    .description("the upstreams of the gateway instance that answers: address in use, health, circuit state, and the rules an open circuit affects")
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await ctx.client().get<UpstreamsView>('/api/upstreams');
      printResult(ctx.json, r, () => upstreamsText(r));
    });
}
